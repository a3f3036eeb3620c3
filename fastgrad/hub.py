"""torch.hub: entry points of a hubconf.py (local directories, or GitHub repositories fetched as
zip archives), get_dir / set_dir, download_url_to_file and load_state_dict_from_url (a
checkpoint downloaded once into <hub dir>/checkpoints, loaded with fastgrad.load)."""
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url", "set_dir"]

_hub_dir = None
_builtin_list = list


def _torch_home():
    return os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")))


def get_dir():
    """The hub directory: set_dir's, else $TORCH_HOME/hub (~/.cache/torch/hub)."""
    if os.getenv("TORCH_HUB"):
        import warnings

        warnings.warn("TORCH_HUB is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    return _hub_dir if _hub_dir is not None else os.path.join(_torch_home(), "hub")


def set_dir(d):
    """Use directory d for hub downloads and checkpoints."""
    global _hub_dir
    _hub_dir = os.path.expanduser(d)


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Download url to dst (through a temporary file); hash_prefix: the SHA-256 must start with it."""
    dst = os.path.expanduser(dst)
    dst_dir = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(dir=dst_dir, suffix=".partial")
    sha = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(urllib.request.Request(url, headers={
                "User-Agent": "torch.hub"})) as u:
            while True:
                buf = u.read(8192)
                if not buf:
                    break
                f.write(buf)
                sha.update(buf)
        if hash_prefix is not None and not sha.hexdigest().startswith(hash_prefix):
            raise RuntimeError('invalid hash value (expected "%s", got "%s")' % (hash_prefix, sha.hexdigest()))
        shutil.move(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True, check_hash=False, file_name=None,
                             weights_only=False):
    """The object saved at url (downloaded once into <hub dir>/checkpoints), loaded with fastgrad.load."""
    import fastgrad

    model_dir = model_dir if model_dir is not None else os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urllib.request.urlparse(url).path)
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        sys.stderr.write('Downloading: "%s" to %s\n' % (url, cached))
        hash_prefix = None
        if check_hash:
            stem = filename.split(".")[0]
            hash_prefix = stem.split("-")[-1] if "-" in stem else None
        download_url_to_file(url, cached, hash_prefix, progress=progress)
    return fastgrad.load(cached, map_location=map_location, weights_only=weights_only)


def _repo_dir(repo_or_dir, source, force_reload, verbose):
    if source not in ("github", "local"):
        raise ValueError('Unknown source: "%s". Allowed values: "github" | "local".' % source)
    if source == "local":
        return repo_or_dir
    owner_name, _, ref = repo_or_dir.partition(":")
    ref = ref or "main"
    owner, name = owner_name.split("/")
    hub = get_dir()
    os.makedirs(hub, exist_ok=True)
    target = os.path.join(hub, "_".join([owner, name, ref.replace("/", "_")]))
    if force_reload or not os.path.exists(target):
        archive = os.path.join(hub, ref.replace("/", "_") + ".zip")
        if verbose:
            sys.stderr.write('Downloading: "https://github.com/%s/zipball/%s" to %s\n' % (owner_name, ref, archive))
        download_url_to_file("https://github.com/%s/zipball/%s" % (owner_name, ref), archive)
        with zipfile.ZipFile(archive) as z:
            top = z.namelist()[0].split("/")[0]
            z.extractall(hub)
        os.remove(archive)
        if os.path.exists(target):
            shutil.rmtree(target)
        shutil.move(os.path.join(hub, top), target)
    return target


def _hubconf(repo_dir):
    path = os.path.join(repo_dir, "hubconf.py")
    if not os.path.exists(path):
        raise FileNotFoundError("Cannot find hubconf.py in %s" % repo_dir)
    sys.path.insert(0, repo_dir)
    try:
        spec = importlib.util.spec_from_file_location("hubconf", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(repo_dir)
    return module


def _entry(module, model):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    fn = getattr(module, model, None)
    if fn is None or not callable(fn):
        raise RuntimeError("Cannot find callable %s in hubconf" % model)
    return fn


def list(github, force_reload=False, skip_validation=False, trust_repo=None, verbose=True, source="github"):  # noqa: A001
    """The entry points (public callables) of the repository's hubconf.py."""
    module = _hubconf(_repo_dir(github, source, force_reload, verbose))
    return [f for f in dir(module) if callable(getattr(module, f)) and not f.startswith("_")]


def help(github, model, force_reload=False, skip_validation=False, trust_repo=None, source="github"):  # noqa: A001
    """The docstring of entry point `model`."""
    return _entry(_hubconf(_repo_dir(github, source, force_reload, True)), model).__doc__


def load(repo_or_dir, model, *args, source="github", trust_repo=None, force_reload=False, verbose=True,
         skip_validation=False, **kwargs):
    """Call entry point `model` of the hubconf.py in repo_or_dir (source='local') or in GitHub
    repository 'owner/name[:ref]' (source='github') with *args, **kwargs."""
    source = source.lower()
    return _entry(_hubconf(_repo_dir(repo_or_dir, source, force_reload, verbose)), model)(*args, **kwargs)
