"""Flatten nested tuples/lists/dicts of leaves and rebuild them (torch.utils._pytree's role)."""


def flatten(tree):
    """(leaves, spec): spec rebuilds the structure from a list of leaves."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for item in tree:
            sub, spec = flatten(item)
            leaves += sub
            specs.append((len(sub), spec))
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for key, item in tree.items():
            sub, spec = flatten(item)
            leaves += sub
            specs.append((key, len(sub), spec))
        return leaves, (dict, specs)
    return [tree], None


def unflatten(leaves, spec):
    if spec is None:
        return leaves[0]
    kind, specs = spec
    out, pos = [], 0
    if kind is dict:
        result = {}
        for key, n, sub in specs:
            result[key] = unflatten(leaves[pos:pos + n], sub)
            pos += n
        return result
    for n, sub in specs:
        out.append(unflatten(leaves[pos:pos + n], sub))
        pos += n
    if kind is tuple or kind is list:
        return kind(out)
    return kind(*out)  # namedtuple
