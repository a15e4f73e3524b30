# hubspot-rcs: the connector server, beside IDM.
# Build:  docker build -t hubspot-rcs .            (any Debian-like base with python3 >= 3.11
#                                                  and venv; python3 may be in /usr/bin or
#                                                  /usr/local/bin: both stages use the same base)
#         docker build --build-arg BASE_IMAGE=debian:bookworm-slim ...   needs python3-venv there
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
# The venv is made with the base's own python3 (/usr/local/bin on python:*, /usr/bin on Debian),
# so the runtime stage, built FROM the same base, finds the same interpreter at the same path.
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY protocol ./protocol
COPY connector ./connector
COPY server ./server
COPY client ./client
COPY emulator ./emulator
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile . \
 && /opt/venv/bin/python -m compileall -q /opt/venv

FROM ${BASE_IMAGE}
ARG RCS_UID=10001
# USER below repeats the uid: hadolint and runtimes want it numeric.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RCS_HOST=0.0.0.0 \
    RCS_KEYSTORE=/run/secrets/rcs-keystore
RUN groupadd --system --gid ${RCS_UID} rcs \
 && useradd --system --uid ${RCS_UID} --gid rcs --home-dir /opt/rcs --shell /usr/sbin/nologin rcs \
 && mkdir -p /opt/rcs/conf \
 && chown -R rcs:rcs /opt/rcs \
 && chmod 0750 /opt/rcs/conf
COPY --from=build /opt/venv /opt/venv
COPY --chown=rcs:rcs conf/ /opt/rcs/conf/
WORKDIR /opt/rcs
USER 10001:10001
# The server rewrites conf/ to encrypt plain-text secrets it finds there: mount it writable.
VOLUME ["/opt/rcs/conf"]
EXPOSE 8759
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["hubspot-rcs", "health", "--conf", "/opt/rcs/conf"]
ENTRYPOINT ["hubspot-rcs"]
CMD ["serve", "--conf", "/opt/rcs/conf"]
