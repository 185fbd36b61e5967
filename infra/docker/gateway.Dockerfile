# The API gateway for containers: nginx (unprivileged, uid 101) with the configuration rendered by
# trellis_infra.gateway from the same template and routes as `make up` (services by DNS name on
# :8000, SSE, large bodies, rate limits, problem+json), and the AsyncAPI documents generated from
# the event contracts.
#   docker build -f infra/docker/gateway.Dockerfile -t trellis/gateway .
FROM python:3.11-slim AS render
RUN pip install --no-cache-dir "uv==0.13.8"
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY infra infra
COPY services services
RUN uv sync --frozen --no-dev --package trellis-infra \
 && uv run --no-sync python -m trellis_infra.gateway /out

FROM nginxinc/nginx-unprivileged:1.29-alpine
COPY --from=render /out/nginx.conf /etc/nginx/nginx.conf
COPY --from=render /out/public /usr/share/trellis-gateway
USER 101
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
# nginx writes its pid and temp files below /tmp/trellis-gateway (an emptyDir in Kubernetes),
# and creates the temp folders' parent only if it exists.
CMD ["sh", "-c", "mkdir -p /tmp/trellis-gateway/tmp && exec nginx -e stderr -g 'daemon off;'"]
