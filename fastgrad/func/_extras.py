"""torch.func's smaller members: rearrange (einops-style axis patterns), functionalize and
debug_unwrap (identities on eager fastgrad tensors: there are no functorch wrappers to remove),
and replace_all_batch_norm_modules_."""
import functools
import math
import re

from fastgrad._backend import engine

__all__ = ["rearrange", "functionalize", "debug_unwrap", "replace_all_batch_norm_modules_"]

_ELLIPSIS = "\u2026"


class _Group(list):
    """A parenthesized group of axes (one dimension)."""


def _parse_side(side):
    """'b (h w) ... c' -> [['b'], ['h', 'w'], [ELLIPSIS], ['c']] (an outer group is one dim)."""
    side = side.replace("...", _ELLIPSIS)
    groups, current = [], None
    for tok in re.findall(r"\(|\)|%s|[A-Za-z_][A-Za-z0-9_]*|\d+|\S" % _ELLIPSIS, side):
        if tok == "(":
            if current is not None:
                raise ValueError("Axis composition is one-level (brackets inside brackets not allowed)")
            current = []
        elif tok == ")":
            if current is None:
                raise ValueError("Brackets are not balanced")
            groups.append(_Group(current))
            current = None
        elif tok == _ELLIPSIS or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|\d+", tok):
            if tok.isdigit() and tok != "1":
                raise ValueError("Non-unitary anonymous axes are not supported in rearrange (exception is length 1)")
            (current if current is not None else groups).append(tok if current is not None else [tok])
        else:
            raise ValueError("Unknown character '%s'" % tok)
    if current is not None:
        raise ValueError("Brackets are not balanced")
    return groups


def _names(groups):
    return [a for g in groups for a in g if a != "1"]


def rearrange(tensor, pattern, **axes_lengths):
    """Reorder, split and merge the axes of tensor (or of the stack of a list of tensors) as the
    einops pattern 'left -> right' says, e.g. 'b c (h p) w -> b (c p) h w' with p=2."""
    import fastgrad

    if not isinstance(tensor, engine.TensorBase):
        tensor = fastgrad.stack(list(tensor))
    if "->" not in pattern:
        raise ValueError("Pattern must contain '->' for rearrange")
    left_s, right_s = pattern.split("->")
    left, right = _parse_side(left_s), _parse_side(right_s)
    bare = [g for g in left if g == [_ELLIPSIS] and not isinstance(g, _Group)]
    n_ell = tensor.ndim - (len(left) - len(bare))
    for side, groups in (("left", left), ("right", right)):
        count = sum(a == _ELLIPSIS for g in groups for a in g)
        if count > 1:
            raise ValueError("Expression may contain dots only inside ellipsis (...); only one ellipsis allowed")
    if any(_ELLIPSIS in g and isinstance(g, _Group) for g in left):
        raise ValueError("Ellipsis inside parenthesis in the left side is not allowed")
    ell_names = ["%s%d" % (_ELLIPSIS, i) for i in range(max(n_ell, 0))]

    def expand(groups):
        out = []
        for g in groups:
            if g == [_ELLIPSIS] and not isinstance(g, _Group):  # a bare ellipsis: one group per dimension it stands for
                out.extend([n] for n in ell_names)
                continue
            new = []
            for a in g:
                new.extend(ell_names if a == _ELLIPSIS else [a])
            out.append(new)
        return out

    has_ell = any(_ELLIPSIS in g for g in left)
    if (has_ell and n_ell < 0) or (not has_ell and len(left) != tensor.ndim):
        raise ValueError("Wrong shape: expected %d dims. Received %d-dim tensor." % (len(left), tensor.ndim))
    if any(_ELLIPSIS in g for g in right) and not has_ell:
        raise ValueError("Ellipsis found in right side, but not left side of a pattern %s" % pattern)
    left, right = expand(left), expand(right)
    lnames, rnames = _names(left), _names(right)
    if len(set(lnames)) != len(lnames) or len(set(rnames)) != len(rnames):
        raise ValueError("Indexing expression contains duplicate dimension")
    if set(lnames) != set(rnames):
        raise ValueError("Identifiers only on one side of expression (should be on both): %s"
                         % sorted(set(lnames) ^ set(rnames)))
    for name in axes_lengths:
        if name not in lnames:
            raise ValueError("Axis %s is not used in transform" % name)
    sizes = {}
    for g, dim in zip(left, tensor.shape):
        known = 1
        unknown = []
        for a in g:
            if a == "1":
                continue
            if a in axes_lengths:
                sizes[a] = int(axes_lengths[a])
                known *= sizes[a]
            else:
                unknown.append(a)
        if len(g) == 1 and not unknown and g[0] != "1" and known != dim:
            raise ValueError("Shape mismatch, %d != %d" % (dim, known))
        if len(unknown) > 1:
            raise ValueError("Could not infer sizes for %s" % unknown)
        if unknown:
            if known == 0 or dim % known:
                raise ValueError("Shape mismatch, can't divide axis of length %d in chunks of %d" % (dim, known))
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError("Shape mismatch, %d != %d" % (dim, known))
    x = tensor.reshape([sizes[a] for a in lnames]) if lnames else tensor.reshape(())
    x = x.permute([lnames.index(a) for a in rnames]) if rnames else x
    return x.reshape([math.prod(sizes[a] for a in g if a != "1") for g in right])


def functionalize(func, *, remove="mutations"):
    """func itself, as a function (fastgrad runs eagerly: there is no traced program whose mutations
    or views would be rewritten; the results are the same)."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError("functionalize(f, remove='mutations'): received invalid argument for remove=%s. Valid "
                           "options are:\n     remove='mutations': all inplace and out= operators will be removed "
                           "from the program, and replaced with their out-of-place equivalents.\n     "
                           "remove='mutations_and_views': In addition to the above, all aliasing operators {view} "
                           "will be replaced with their non-aliasing counterparts, {view}_copy.\n" % remove)

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapped


def debug_unwrap(tensor, *, recurse=True):
    """The tensor without functorch wrappers: fastgrad's transforms wrap nothing, so tensor itself."""
    return tensor


def replace_all_batch_norm_modules_(root):
    """In place: every batch-norm module in root stops tracking running statistics (running_mean,
    running_var and num_batches_tracked become None). Returns root."""
    from fastgrad.nn.modules.batchnorm import _BatchNorm

    for m in [root, *root.modules()]:
        if isinstance(m, _BatchNorm) and m.track_running_stats:
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root
