#!/usr/bin/env bash
# Impasto on an NVIDIA GPU in one go: install, smoke test, benchmark at 512 and 1024 px.
#
#     bash bench/gpu.sh
#
# Run it from the repository root on a machine with an NVIDIA driver (nvidia-smi works) and access
# to PyPI. IMPASTO_VGG_WEIGHTS may point to a local VGG16 weights file (else the shared stand-in
# beside the repository, else Keras downloads ImageNet's). SAMPLES (default ../shared/samples) holds
# tubingen.jpg and starry_night.jpg. VENV (default .venv-gpu) is where it installs; everything it
# measures lands in bench/results/gpu/ (the log, latest.json, pictures).
set -euo pipefail

cd "$(dirname "$0")/.."
venv="${VENV:-.venv-gpu}"
out="bench/results/gpu"
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1

echo "== GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv

echo "== install (the README's install, plus TensorFlow's CUDA libraries as the Dockerfile's GPU=1 does)"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet .
tf_version="$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("tensorflow"))')"
"$venv/bin/pip" install --quiet "tensorflow[and-cuda]==${tf_version}"

if [ -z "${IMPASTO_VGG_WEIGHTS:-}" ] && [ -f ../shared/weights/vgg16_hed_notop.weights.h5 ]; then
    export IMPASTO_VGG_WEIGHTS="$PWD/../shared/weights/vgg16_hed_notop.weights.h5"
fi

echo "== smoke test: TensorFlow sees the GPU and a small transfer runs on it"
"$venv/bin/python" -c 'import tensorflow as tf, sys; gpus = tf.config.list_physical_devices("GPU"); print(gpus); sys.exit(0 if gpus else "TensorFlow sees no GPU")'
samples="${SAMPLES:-../shared/samples}"
"$venv/bin/impasto" transfer "$samples/tubingen.jpg" "$samples/starry_night.jpg" -o "$out/smoke_256.png" \
    --size 256 --iterations 20 --quiet --json | tee "$out/smoke.json"
grep -q '"device": "GPU' "$out/smoke.json" || { echo "the transfer did not run on the GPU" >&2; exit 1; }

echo "== benchmark at 512 and 1024 px (article vs Impasto per evaluation, default result, memory)"
"$venv/bin/python" bench/benchmark.py --sizes 512,1024 --memory --out-dir "$out" \
    --content "$samples/tubingen.jpg" --style "$samples/starry_night.jpg"
