# redis_lib.sh: redis-server instances for the Redis integration tests (source it after tap.sh).
#   free_port                       prints a free TCP port on 127.0.0.1
#   redis_start NAME PORT [ARGS...] starts redis-server in $tmp/NAME (no persistence unless ARGS
#                                   ask for it), waits until it answers PING; 1 if it never does
#   redis_kill NAME [SIG]           signals it (default TERM) and, for TERM/KILL, waits for it
#   redis_cleanup                   stops every server started (call it from the EXIT trap)
# The caller sets $tmp (a private directory) before using these.
REDIS_NAMES=()

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

redis_start() { # name port args...
  local name=$1 port=$2; shift 2
  mkdir -p "$tmp/$name"
  # in a subshell: not a job of this shell, so no "Killed" notices when a test kills it
  (redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
    --dir "$tmp/$name" "$@" >>"$tmp/$name/log" 2>&1 & echo $! >"$tmp/$name/pid")
  echo "$port" >"$tmp/$name/port"
  REDIS_NAMES+=("$name")
  echo "# redis-server $name on 127.0.0.1:$port"
  for _ in $(seq 1 200); do
    redis-cli -p "$port" ping 2>&1 | grep -Eq 'PONG|NOAUTH' && return 0
    kill -0 "$(cat "$tmp/$name/pid")" 2>/dev/null || break
    sleep 0.05
  done
  echo "# redis-server $name on $port did not start:"; sed 's/^/#   /' "$tmp/$name/log" | tail -5
  return 1
}

redis_kill() { # name [signal]
  local pid sig=${2:-TERM}
  pid=$(cat "$tmp/$1/pid" 2>/dev/null) || return 0
  kill -"$sig" "$pid" 2>/dev/null
  if [ "$sig" = TERM ] || [ "$sig" = KILL ]; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$tmp/$1/pid"
  fi
}

redis_cleanup() {
  local n pid
  for n in "${REDIS_NAMES[@]}"; do
    pid=$(cat "$tmp/$n/pid" 2>/dev/null) || continue
    kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null
  done
  for n in "${REDIS_NAMES[@]}"; do
    pid=$(cat "$tmp/$n/pid" 2>/dev/null) || continue
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
  done
}
