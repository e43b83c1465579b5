# The KTRDR image: every process (backend, workers, CLI) runs from it with a different command.
#   docker build -t ktrdr .                                   CPU torch (small)
#   docker build --build-arg TORCH_VARIANT=cu126 -t ktrdr:cuda .   CUDA torch for GPU workers
# The CUDA wheels bring their own CUDA runtime; the host needs only the NVIDIA driver and the
# NVIDIA container toolkit.
FROM python:3.11-slim

ARG TORCH_VARIANT=cpu
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# torch first, from the index of the wanted variant, so its large layer is cached apart from our code.
COPY constraints.txt ./
RUN pip install --index-url "https://download.pytorch.org/whl/${TORCH_VARIANT}" \
        "torch==$(sed -n 's/^torch==//p' constraints.txt)"
COPY pyproject.toml README.md ./
COPY ktrdr ./ktrdr
COPY tui ./tui
COPY strategies ./strategies
RUN pip install -c constraints.txt . \
    && useradd --create-home --uid 1000 ktrdr

USER ktrdr
ENV KTRDR_HOME=/home/ktrdr/.ktrdr
# Workers checkpoint and requeue on SIGTERM (give them `stop_grace_period` / `docker stop -t`).
STOPSIGNAL SIGTERM
CMD ["ktrdr", "--help"]
