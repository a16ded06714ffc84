#!/bin/sh
# Make the secret files of deploy/compose/compose.yaml in DIR (default
# deploy/compose/secrets): random passwords for RabbitMQ and Redis, OCCO's configuration
# that uses them, and an empty auth_data.yaml to fill in. Each file is mode 0600 and owned
# by the user of the container that reads it (OCCO's image: 10001; the rabbitmq and redis
# images: 999), so run it as root. Existing files are kept.
set -eu
dir="${1:-$(dirname "$0")/secrets}"
mkdir -p "$dir"
chmod 0700 "$dir"
password() { head -c 24 /dev/urandom | base64 | tr -d '/+=' ; }
write() {   # write FILE OWNER: the text on stdin, unless FILE exists
    if [ -e "$dir/$1" ]; then cat > /dev/null; echo "kept $dir/$1"; return; fi
    (umask 077; cat > "$dir/$1")
    if [ "$(id -u)" = 0 ]; then chown "$2:$2" "$dir/$1"; fi
    echo "made $dir/$1"
}
amqp="$(password)"
redis="$(password)"
write rabbitmq.conf 999 <<CONF
default_user = occo
default_pass = $amqp
CONF
write redis.conf 999 <<CONF
requirepass $redis
appendonly yes
appendfsync always
CONF
write occo.yaml 10001 <<CONF
store: {backend: redis, url: "redis://:$redis@redis:6379/0", prefix: occo}
transport: {backend: amqp, url: "amqp://occo:$amqp@rabbitmq:5672/%2F", prefix: occo}
rest: {token_file: /var/lib/occo/rest-token}
auth_data: /run/secrets/auth_data.yaml
CONF
write auth_data.yaml 10001 <<CONF
# the clouds' credentials (docs/user/clouds.rst)
[]
CONF
if [ "$(id -u)" != 0 ]; then
    echo "not root: the files are yours; chown them (occo.yaml, auth_data.yaml: 10001;" \
         "rabbitmq.conf, redis.conf: 999) before docker compose up" >&2
fi
