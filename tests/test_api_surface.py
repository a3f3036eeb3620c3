"""torch's public names, namespace by namespace: each exists in fastgrad, is out of scope (the
table below says why), or is listed in tests/api_surface_missing.txt. That list is a ratchet: it
may only shrink. A listed name that now exists fails the test until it is taken off
(`python tests/test_api_surface.py --update` rewrites the file; review the diff).

Namespaces: torch (torch.__all__ plus every torch.<fn> in torch.overrides.get_testing_overrides()),
Tensor (public attributes), nn, nn.functional, nn.init, nn.utils, optim, optim.lr_scheduler,
utils.data, linalg, special, fft, autograd, distributions, func, amp, testing (their __all__, else
their public attributes), and modules (torch's submodules: torch.<name>)."""
import pathlib
import re
import sys

import pytest

MISSING_FILE = pathlib.Path(__file__).with_name("api_surface_missing.txt")

# (namespace regex, name regex) -> why fastgrad does not provide it
OUT_OF_SCOPE = {
    (r".*", r"(cudnn|miopen|mkldnn|fbgemm)_.*|(?!is_).*_(cudnn|mkldnn)|(get|set|is)_autocast_(ipu|xla)_.*"):
        "backend-specific kernels and devices: fastgrad runs on the CPU through NumPy",
    (r"torch|Tensor", r"q_.*|quantize.*|dequantize|qint\d+|quint.*|qscheme|int_repr|fake_quantize.*|"
                      r"quantized_.*|choose_qparams_optimized|fused_moving_avg_obs_fake_quant"):
        "quantized tensors are out of scope",
    (r"torch|Tensor", r"(sparse_(csr|csc|bsr|bsc|compressed)_tensor|to_sparse_(csr|csc|bsr|bsc)|"
                      r"(c?col|crow|row)_indices(_copy)?|ccol_indices|sparse_resize_.*|"
                      r"resize_as_sparse_|sspaddmm|saddmm|smm|hsmm|dsmm|hspmm|sparse_mask|coalesce|"
                      r"is_coalesced|indices(_copy)?|values(_copy)?|sparse_dim|dense_dim|to_sparse_coo)"):
        "compressed sparse layouts (CSR/CSC/BSR/BSC) and COO internals: fastgrad's sparse COO is dense underneath",
    (r"torch", r"[A-Z].*(Type|Storage)|AVG|SUM|AggregationType|AliasDb|Argument(Spec)?|BenchmarkConfig|"
               r"BenchmarkExecutionStats|Block|BufferDict|CallStack|Capsule|ClassType|Code|CompilationUnit|"
               r"CompleteArgumentSpec|ConcreteModuleType(Builder)?|DeepCopyMemoTable|"
               r"(De)?[sS]erializationStorageContext|DispatchKey(Set)?|ErrorReport|ExcludeDispatchKeyGuard|"
               r"ExecutionPlan|FatalError|FileCheck|FunctionSchema|Future|Gradient|Graph|GraphExecutorState|"
               r"IODescriptor|InferredType|JITException|LiteScriptModule|LockingLogger|ModuleDict|Node|"
               r"NoopLogger|OperatorInfo|ParameterDict|PyTorchFile(Reader|Writer)|Script.*|StaticModule|Tag|"
               r"ThroughputBenchmark|TracingState|Type|Use|Value|DisableTorchFunction(Subclass)?|"
               r"import_ir_module(_from_buffer)?|parse_ir|parse_schema|parse_type_comment|"
               r"merge_type_from_type_comment|unify_type_list|fork|wait|from_file|compiled_with_cxx11_abi|"
               r"TypedStorage|UntypedStorage|Stream|Event|AcceleratorError|OutOfMemoryError|Sym(Int|Float|Bool)|"
               r"sym_.*|thread_safe_generator|cpp|export|GradScaler"):
        "TorchScript/JIT, dispatcher, storage, stream and symbolic-shape internals of torch's C++ core",
    (r"torch", r"float8_.*|float4_.*|bits.*|bit|int[1-7]|uint[1-7]|complex32|chalf"):
        "dtypes NumPy does not have (fp8/fp4, bit-packed, sub-byte, complex32)",
    (r"torch", r"batch_norm_.*|native_(dropout|norm)|.*_backward.*|"
               r"affine_grid_generator|grid_sampler|"
               r"conv_tbc|convolution|norm_except_dim|embedding_renorm_|segment_reduce|"
               r"empty_quantized|lobpcg"):
        "ATen-internal entry points (torch's own building blocks, not user API)",
    (r"Tensor", r"ipu|xpu|mtia|record_stream|to_mkldnn|to_padded_tensor|is_set_to|set_|storage|storage_type|"
                r"untyped_storage|module_load|volatile|reinforce|grad_dtype|const_data_ptr|as_subclass|"
                r"symeig|eig|lstsq|solve|name|names|index"):
        "storage/stream internals, removed legacy methods (eig, symeig, lstsq, solve raise in torch too) and "
        "named tensors",
    (r"nn\.functional", r"BroadcastingList\d|Callable|DType|Optional|TYPE_CHECKING|Tensor|dataclasses|importlib|"
                        r"math|np|torch|warnings|boolean_dispatch|assert_int_or_pair|handle_torch_function|"
                        r"has_torch_function.*|.*_notes|GRID_SAMPLE_.*|ScalingType|SwizzleType|grad|"
                        r"grouped_mm|scaled_grouped_mm|scaled_mm"):
        "module-level imports and helpers of torch's source, and low-precision grouped GEMMs for accelerators",
    (r"nn", r"common_types|factory_kwargs|grad|intrinsic|qat|quantizable|quantized"):
        "torch.nn's internal subpackages (quantization-aware training, fused intrinsics)",
    (r"utils\.data", r".*DataPipe|DataChunk|argument_validation|functional_datapipe|"
                     r"guaranteed_datapipes_determinism|non_deterministic|runtime_validation.*"):
        "torchdata's DataPipes (deprecated in torch, removed from torchdata)",
    (r"linalg", r"common_notes"): "a docstring table of torch's source",
    (r"modules", r"builtins|ctypes|functools|glob|importlib|inspect|math|os|platform|sys|textwrap|threading|"
                 r"torch|types|warnings|classes|ops|return_types|storage|torch_version|ao|quantization|mps|mtia|xpu|"
                 r"cpp|compiler|export|fx|package|library|monitor|_.*"):
        "Python standard-library modules torch imports, and torch's compiler, quantization, operator-registry "
        "and device-backend packages",
    (r"torch|Tensor", r"slice_inverse"): "functionalization's view-replay internals (torch.compile's graph passes)",
    (r"testing", r"FileCheck"): "TorchScript IR checking",
    (r"optim", r"swap_in_optimizer_params_and_state"): "an internal helper of torch's optim",
    (r"autograd", r"NestedIOFunction|enforce_grad_layout_policy"): "legacy and internal autograd helpers",
}


def _namespaces():
    import torch
    import torch.overrides

    import fastgrad

    def fg(path):
        obj = fastgrad
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj

    overrides = torch.overrides.get_testing_overrides()
    top = set(torch.__all__) | {f.__name__ for f in overrides
                                if getattr(torch, getattr(f, "__name__", ""), None) is f}
    spaces = {"torch": (sorted(top), fastgrad),
              "Tensor": (sorted(n for n in dir(torch.Tensor)), fastgrad.Tensor)}
    for path in ("nn", "nn.functional", "nn.init", "nn.utils", "optim", "optim.lr_scheduler", "utils.data", "linalg",
                 "special", "fft", "autograd", "distributions", "func", "amp", "testing"):
        mod = torch
        for part in path.split("."):
            mod = getattr(mod, part)
        names = getattr(mod, "__all__", None) or dir(mod)
        spaces[path] = (sorted(set(names)), fg(path))
    import types

    spaces["modules"] = (sorted(n for n in dir(torch) if isinstance(getattr(torch, n), types.ModuleType)), fastgrad)
    return {k: ([n for n in names if not n.startswith("_")], obj) for k, (names, obj) in spaces.items()}


def _out_of_scope(space, name):
    for (sp, pat), reason in OUT_OF_SCOPE.items():
        if re.fullmatch(sp, space) and re.fullmatch(pat, name):
            return reason
    return None


def _census():
    have, missing, scoped = [], [], []
    for space, (names, obj) in _namespaces().items():
        for name in names:
            key = "%s %s" % (space, name)
            if obj is not None and hasattr(obj, name):
                have.append(key)
            elif _out_of_scope(space, name):
                scoped.append(key)
            else:
                missing.append(key)
    return have, missing, scoped


def _listed():
    if not MISSING_FILE.exists():
        return set()
    return {line.strip() for line in MISSING_FILE.read_text().splitlines() if line.strip() and line[0] != "#"}


def test_api_surface_ratchet():
    pytest.importorskip("torch")
    have, missing, _ = _census()
    listed = _listed()
    new_gaps = sorted(set(missing) - listed)
    assert not new_gaps, "torch names fastgrad lacks that are not on the missing list: %s" % new_gaps
    now_present = sorted(listed & set(have))
    assert not now_present, ("names on tests/api_surface_missing.txt now exist; take them off "
                             "(python tests/test_api_surface.py --update): %s" % now_present)


def test_out_of_scope_entries_are_absent():
    """An out-of-scope name that fastgrad provides after all must leave the table's patterns."""
    pytest.importorskip("torch")
    have, _, _ = _census()
    provided = [k for k in have if _out_of_scope(*k.split(" ", 1))]
    assert provided == [], provided


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    have, missing, scoped = _census()
    total = len(have) + len(missing)
    print("api surface: %d of %d in-scope torch names exist (%.1f%%); %d out of scope"
          % (len(have), total, 100.0 * len(have) / total, len(scoped)))
    if "--update" in sys.argv:
        MISSING_FILE.write_text("# torch names fastgrad does not have yet (tests/test_api_surface.py; only shrinks)\n"
                                + "".join(k + "\n" for k in sorted(missing)))
        print("wrote", MISSING_FILE)
