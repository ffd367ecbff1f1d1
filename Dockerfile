# PacSpace node image: the anchor contract's artifact is built with the pinned npm toolchain,
# the native Merkle library with gcc in a stage of its own, the node runs from the locked Python
# environment (no compiler in the final image).
FROM node:20-bookworm-slim AS contracts
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY foundry.toml ./
COPY scripts/solc scripts/solc
COPY contracts contracts
RUN FOUNDRY_SOLC=/src/scripts/solc node_modules/.bin/forge build

FROM python:3.11-slim AS native
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY node/__init__.py node/__init__.py
COPY node/native node/native
RUN python -m node.native.build --force

FROM python:3.11-slim
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md hatch_build.py ./
COPY verifier verifier
COPY node node
RUN uv sync --frozen --no-dev
COPY --from=native /src/node/native/_build node/native/_build
COPY --from=contracts /src/out out
COPY --from=contracts /src/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil /usr/local/bin/anvil
ENV PATH=/app/.venv/bin:$PATH PACSPACE_HOST=0.0.0.0 ETH_HASH_BACKEND=pysha3
EXPOSE 8000
CMD ["pacspace-node", "serve"]
