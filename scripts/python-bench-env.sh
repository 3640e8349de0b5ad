#!/usr/bin/env bash
# Makes the Python the benches compare with: current PyTorch (2.14.1) + torchvision 0.29.1 in a venv at
# .cache/python-bench (or $1). Prints the venv's python path on its last line.
#
# Why --no-deps: the 2.14.1 wheels are CUDA 13 builds (they run on the CPU too) and list cuda-bindings,
# which the package index reachable from these machines lacks, so pip's resolver stops. torch itself
# does not import it; the NVIDIA wheels it does load (cuBLAS, cuDNN, NCCL, ...) are installed by name.
# pytorch-metric-learning 2.9.0 comes along (the loss fixture script compares with it), also --no-deps
# (its only other requirements are numpy, scikit-learn, tqdm, installed by name).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.cache/python-bench}"
py="${PYTHON:-python3}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch, torchvision' 2>/dev/null; then
  echo "python-bench-env: $venv already has torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
  echo "$venv/bin/python"
  exit 0
fi
echo "python-bench-env: making $venv (torch 2.14.1 + torchvision 0.29.1, about 4.6 GB)"
"$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --no-input --retries 0)
"${pip[@]}" --no-deps torch==2.14.1 torchvision==0.29.1 pytorch-metric-learning==2.9.0
# What torch 2.14.1's METADATA lists for Linux, but cuda-bindings (absent here) and triton (GPU
# compiler only).
"${pip[@]}" 'cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.3' \
  nvidia-cudnn-cu13==9.24.0.43 nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.4.5 \
  filelock 'typing-extensions>=4.10.0' 'setuptools>=77.0.3' 'sympy>=1.13.3' 'networkx>=2.5.1' jinja2 'fsspec>=0.8.5' \
  numpy pillow scikit-learn tqdm
# The CUDA headers that the cuda-toolkit extras above leave out (crt/, cccl) and that libtorch's CUDA headers
# include: scripts/check-cuda-build.sh compiles the addon against this venv's torch.
"${pip[@]}" nvidia-cuda-crt==13.0.88 nvidia-cuda-cccl==13.0.85
"$venv/bin/python" -c 'import torch, torchvision; print("python-bench-env: torch", torch.__version__, "torchvision", torchvision.__version__, "CPU capability", torch.backends.cpu.get_cpu_capability())'
echo "$venv/bin/python"
