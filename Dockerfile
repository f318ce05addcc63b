# The hub's image: one image, the command picks the role (migrate, worker, api, relay).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml alembic.ini ./
COPY hub ./hub
COPY consumers ./consumers
COPY producers ./producers
COPY schemas ./schemas
COPY migrations ./migrations
RUN pip install --no-cache-dir -e .
ENV HUB_ENVIRONMENT=production
ENTRYPOINT ["hub"]
