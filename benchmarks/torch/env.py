"""What the PyTorch peer ran on (the BLAS library actually loaded, threads) and its peak resident memory."""
import ctypes
import ctypes.util
import json
import os

# Idle OpenMP workers sleep instead of spinning (unless the caller chose otherwise). Spinning workers take the
# cores OpenBLAS's own threads need right after each parallel op: measured on the 2-core machine under load,
# a B 8 step took ~1,950 ms spinning and ~135 ms passive. libgomp reads this when torch loads it: set first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

# Path fragments of /proc/self/maps → the BLAS they are. Debian switches libblas.so.3 between these with
# update-alternatives; the reference BLAS is about 30x slower at matmul than OpenBLAS.
BLAS_LIBRARIES = [
    ("openblas-pthread", "OpenBLAS pthread"),
    ("openblas-openmp", "OpenBLAS OpenMP"),
    ("openblas-serial", "OpenBLAS serial"),
    ("libopenblas", "OpenBLAS"),
    ("libmkl", "MKL"),
    ("blis", "BLIS"),
    ("atlas", "ATLAS"),
    ("/blas/libblas", "reference BLAS"),
]


def loaded_libraries():
    with open("/proc/self/maps") as f:
        return sorted({line.split()[-1] for line in f if "/" in line})


def classify(libraries):
    """(BLAS name, its path) among the paths of mapped libraries, or (None, None)."""
    for fragment, name in BLAS_LIBRARIES:
        path = next((p for p in libraries if fragment in p), None)
        if path:
            return name, path
    return None, None


def blas():
    """The BLAS mapped into this process after a matmul: (name, path, its own thread count or None)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    name, path = classify(loaded_libraries())
    if name is None:
        return ("MKL (linked into libtorch)" if torch.backends.mkl.is_available() else "unknown BLAS"), None, None
    threads = None
    if "OpenBLAS" in name:
        try:
            threads = ctypes.CDLL(path).openblas_get_num_threads()
        except (OSError, AttributeError):
            pass
    return name, path, threads


def set_threads():
    """All the cores this process may use, or $REPRISE_TORCH_THREADS (PyTorch's default here is 1), for
    PyTorch's own threads and OpenBLAS's pool alike (torch.set_num_threads does not reach OpenBLAS's)."""
    threads = int(os.environ.get("REPRISE_TORCH_THREADS") or len(os.sched_getaffinity(0)))
    torch.set_num_threads(threads)
    name, path, _ = blas()
    if "OpenBLAS" in name:
        ctypes.CDLL(path).openblas_set_num_threads(threads)


def describe():
    name, path, blas_threads = blas()
    return {
        "torch": torch.__version__,
        "blas": name,
        "blasPath": path,
        "blasThreads": blas_threads,
        "threads": torch.get_num_threads(),
        "ompWaitPolicy": os.environ.get("OMP_WAIT_POLICY"),
    }


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c"))


def resident(field):
    """VmRSS or VmHWM of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_baseline():
    """Resident bytes before any model exists, after a matmul has made the BLAS allocate its buffers."""
    torch.randn(512, 512) @ torch.randn(512, 512)
    _libc().malloc_trim(0)
    return resident("VmRSS")


def peak_resident_during(step, baseline):
    """The resident high-water mark of one step above `baseline` (writing 5 to clear_refs resets VmHWM).

    Covers what the process holds then: parameters, AdamW moments, gradients, activations, plus allocator
    slack (freed memory is returned first with malloc_trim). Not exact to the byte, like any RSS figure.
    """
    _libc().malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    return {
        "peak_bytes": resident("VmHWM") - baseline,
        "how": "resident memory high-water mark of one step above the process before the model was built",
    }


if __name__ == "__main__":
    # The bench's probe: does torch import, and what would the peer run on.
    set_threads()
    print(json.dumps(describe()))
