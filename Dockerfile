# The hub's image: one image, the command picks the role (migrate, worker, api, relay).
# The dashboard's Chart.js comes from the npm registry at build time (web/package-lock.json).
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml alembic.ini ./
COPY kit ./kit
COPY hub ./hub
COPY consumers ./consumers
COPY producers ./producers
COPY schemas ./schemas
COPY migrations ./migrations
COPY --from=web /web/node_modules/chart.js/dist/chart.umd.min.js ./hub/api/static/vendor/
RUN pip install --no-cache-dir ./kit -e .
ENV HUB_ENVIRONMENT=production
ENTRYPOINT ["hub"]
