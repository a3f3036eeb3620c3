"""fastgrad.compile's backward plan: the graph a recorded `backward()` walks, laid out once as
the engine's walk (engine._run_backward) will run it: the same discovery, the same ready stack,
so the same nodes run in the same order and sum their gradients in the same order (results
equal eager's bit for bit). Each node becomes an entry the program runs on arrays: an op's
array formula (Op._array_grads, or _array_backward) or a leaf's accumulation into .grad."""
from fastgrad._backend import engine
from fastgrad._compile._record import IN, Ref, Unsupported

_SAVE = {engine.SAVE_IN0: "in0", engine.SAVE_IN1: "in1", engine.SAVE_OUT: "out",
         engine.SAVE_IN0_IF_GRAD1: "in0g1", engine.SAVE_IN1_IF_GRAD0: "in1g0"}


class NodePlan:
    """One node of the walk: ACC (leaf: a Ref) or an op's formula (op: its index; for a
    kernel op, its saved slots and metadata, read off the recorded node)."""

    __slots__ = ("idx", "leaf", "op", "kernel", "saved", "needs", "in_meta", "out_meta", "has_edge",
                 "edges", "specs", "array_backward", "n_out", "name", "tensor_backward")


def leaf_ref(rec, t):
    s = rec.slot_of.get(id(t))
    if s is None:
        s = rec.slot(t)
    return Ref(s, t._requires_grad)


def plan_backward(rec, root_nodes, root_nrs, accumulate=True):
    """([each node's number of outputs], [(root index, output nr)], [NodePlan in run order])."""
    index = {}
    found = []
    firsts = []
    kids = []
    deps = []
    for node in root_nodes:
        if id(node) not in index:
            index[id(node)] = len(found)
            found.append(node)
            deps.append(0)
    i = 0
    while i < len(found):
        node = found[i]
        firsts.append(len(kids))
        i += 1
        for edge in node.next_functions:
            nxt = edge[0]
            if nxt is None:
                kids.append(-1)
                continue
            k = index.get(id(nxt))
            if k is None:
                k = index[id(nxt)] = len(found)
                found.append(nxt)
                deps.append(0)
            deps[k] += 1
            kids.append(k)
    stack = [k for k in range(len(found)) if deps[k] == 0]
    left = list(deps)
    order = []
    while stack:
        k = stack.pop()
        order.append(k)
        node = found[k]
        for j in range(len(node.next_functions)):
            kid = kids[firsts[k] + j]
            if kid < 0:
                continue
            left[kid] -= 1
            if left[kid] == 0:
                stack.append(kid)
    plans = [_node_plan(rec, found[k], k, kids[firsts[k]:firsts[k] + len(found[k].next_functions)])
             for k in order]
    roots = [(index[id(n)], nr) for n, nr in zip(root_nodes, root_nrs)]
    return [node._n_out for node in found], roots, plans


def _node_plan(rec, node, k, kid_list):
    p = NodePlan()
    p.idx = k
    p.leaf = p.op = None
    p.name = node.name()
    if isinstance(node, engine.AccumulateGrad):
        leaf = node._leaf()
        if leaf is None:
            raise Unsupported("a leaf of the graph is gone")
        p.leaf = leaf_ref(rec, leaf)
        return p
    if node._pre_hooks is not None or node._post_hooks is not None:
        raise Unsupported("hooks on the graph (%s)" % p.name)
    op = rec.node_op.get(id(node))
    if op is None:
        raise Unsupported("the graph reaches %s, made outside the compiled call" % p.name)
    info = node._info
    if info is None:
        raise Unsupported("%s has no gradient formula the compiled call can run" % p.name)
    r = rec.ops[op]
    # no array formula: its backward on tensors (engine._run_node's way), grad mode off
    p.tensor_backward = info.array_grads is None and info.array_backward is None
    p.op = op
    p.n_out = node._n_out
    p.has_edge = [e[0] is not None for e in node.next_functions]
    p.edges = [(j, kid, node.next_functions[j][1]) for j, kid in enumerate(kid_list) if kid >= 0]
    p.specs = info.array_grads
    p.array_backward = info.array_backward
    p.kernel = r.kind in (1, 2, 3) and info.kernel is not None
    if p.kernel:  # what the program keeps: slots, not the node (a new node every replay is for general ops)
        ins = [a.slot if isinstance(a, Ref) else None for a in r.args]
        need = node.needs_input_grad
        saved = []
        for code in info.saves:
            w = _SAVE[code]
            if w == "out":
                saved.append(r.outs[0])
            elif w == "in0" or (w == "in0g1" and need[1]):
                saved.append(ins[0])
            elif w == "in1" or (w == "in1g0" and need[0]):
                saved.append(ins[1])
            else:
                saved.append(None)
        p.saved = tuple(saved)
        p.needs = tuple(need)
        p.in_meta = node._in_meta
        p.out_meta = node._out_meta
    return p


__all__ = ["plan_backward", "leaf_ref", "NodePlan", "IN"]
