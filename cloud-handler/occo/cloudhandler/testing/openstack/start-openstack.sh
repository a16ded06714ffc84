#!/usr/bin/env bash
# Start a real (PyPI) OpenStack control plane on loopback for tests:
# keystone, placement, glance (file store), neutron (ML2 with the test-only
# 'fake_agent' mechanism driver + a fake L2 agent that only heartbeats, L3
# router plugin without L3 agent), nova api/conductor/scheduler/compute (fake
# virt driver). Creates an external network 'public' (admin) and, for the demo
# project, network 'private' + subnet 127.77.0.0/24 + router 'router1' (gateway on public, 127.78.0.0/24).
# Needs fake-neutron-agent.py (and constraints.txt) next to this script.
# OCCO's tests run it through occo/cloudhandler/testing/openstackenv.py (the ``openstack_cloud`` fixtures).
#
# Usage: start-openstack.sh [DIR]
#   DIR          state dir (default: a new mktemp -d). Re-running on an existing
#                DIR is a warm start (venv, dbs, keys, catalog reused).
# Env:
#   OSTEST_VENV       use/create the virtualenv here (default DIR/venv); share
#                     it between runs for a warm install.
#   OSTEST_BASE_PORT  first of 5 ports (default 18700)
#   OSTEST_DB_URL     MariaDB server URL, no db name
#                     (default mysql+pymysql://root:@127.0.0.1:3306)
#   OSTEST_AMQP       RabbitMQ base (default rabbit://guest:guest@127.0.0.1:5672)
#   OSTEST_PIP_ARGS   extra pip args (default: "-c constraints.txt" of this folder,
#                     the frozen set the tests were run with)
# Prints the DIR on its last line; DIR/openrc and DIR/clouds.yaml describe the cloud.
set -euo pipefail

T0=$(date +%s.%N)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${1:-$(mktemp -d /tmp/ostest.XXXXXX)}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
VENV=${OSTEST_VENV:-$DIR/venv}
BASE=${OSTEST_BASE_PORT:-18700}
DBURL=${OSTEST_DB_URL:-mysql+pymysql://root:@127.0.0.1:3306}
AMQP=${OSTEST_AMQP:-rabbit://guest:guest@127.0.0.1:5672}
PKGS=${OSTEST_PKGS:-"keystone==30.0.0 openstack-placement==16.0.0 glance==33.0.0 neutron==29.0.0 nova==34.0.0 openstacksdk==4.22.0 PyMySQL uwsgi"}

KS_PORT=$BASE; PL_PORT=$((BASE+1)); GL_PORT=$((BASE+2)); NO_PORT=$((BASE+3)); NE_PORT=$((BASE+4))
HOSTIP=127.0.0.1
KS_URL=http://$HOSTIP:$KS_PORT/v3
ADMIN_PW=ostest-admin-pw
SVC_USER=ostest-svc
SVC_PW=ostest-svc-pw

if [ ! -f "$DIR/id" ]; then
  # short lowercase id -> db names ostest_<id>_*, rabbit vhost ostest_<id>
  python3 -c 'import secrets;print(secrets.token_hex(4))' > "$DIR/id"
fi
ID=$(cat "$DIR/id")
PFX=ostest_${ID}
VHOST=$PFX
TRANSPORT=$AMQP/$VHOST

mkdir -p "$DIR"/{etc/keystone,etc/placement,etc/glance,etc/neutron,etc/nova,data,log,run,bin}
mkdir -p "$DIR"/data/{keystone,glance/images,glance/staging,glance/tasks,nova/instances,neutron,locks}

ts() { python3 -c "import time;print(f'{time.time()-$T0:.1f}s')"; }
log() { echo "[$(ts)] $*" >&2; }

# ---------------------------------------------------------------- venv
if [ ! -x "$VENV/bin/nova-compute" ]; then
  log "creating venv $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -U pip wheel setuptools
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q ${OSTEST_PIP_ARGS:--c $HERE/constraints.txt} $PKGS
  log "venv ready"
fi
PY=$VENV/bin/python
SP=$("$PY" -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')
VETC=$VENV/etc   # data_files from the wheels (paste ini files)

# ---------------------------------------------------------------- port check
if ! ls "$DIR"/run/*.pid >/dev/null 2>&1; then
  for p in $KS_PORT $PL_PORT $GL_PORT $NO_PORT $NE_PORT; do
    if "$PY" -c "import socket,sys;s=socket.socket();sys.exit(s.connect_ex(('$HOSTIP',$p))!=0)"; then
      log "port $HOSTIP:$p already in use (another cloud? set OSTEST_BASE_PORT)"; exit 1; fi
  done
fi

# ---------------------------------------------------------------- configs
authtoken() { cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://$HOSTIP:$KS_PORT
auth_url = http://$HOSTIP:$KS_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $SVC_USER
password = $SVC_PW
service_token_roles_required = true
EOF
}
svcauth() { cat <<EOF
[$1]
auth_type = password
auth_url = http://$HOSTIP:$KS_PORT
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $SVC_USER
password = $SVC_PW
region_name = RegionOne
valid_interfaces = public
EOF
}

cat > "$DIR/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
use_stderr = true
[database]
connection = $DBURL/${PFX}_keystone?charset=utf8
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $DIR/data/keystone/fernet-keys
[fernet_receipts]
key_repository = $DIR/data/keystone/fernet-keys
[credential]
key_repository = $DIR/data/keystone/credential-keys
EOF

{ cat <<EOF
[DEFAULT]
use_stderr = true
[placement_database]
connection = $DBURL/${PFX}_placement?charset=utf8
[api]
auth_strategy = keystone
EOF
authtoken; } > "$DIR/etc/placement/placement.conf"

{ cat <<EOF
[DEFAULT]
use_stderr = true
enabled_backends = fs:file
worker_self_reference_url = http://$HOSTIP:$GL_PORT
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $DIR/data/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $DIR/data/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $DIR/data/glance/tasks/
[database]
connection = $DBURL/${PFX}_glance?charset=utf8
[paste_deploy]
flavor = keystone
config_file = $VETC/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $DIR/data/locks
EOF
authtoken; } > "$DIR/etc/glance/glance-api.conf"

{ cat <<EOF
[DEFAULT]
use_stderr = true
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
rpc_workers = 1
rpc_state_report_workers = 1
transport_url = $TRANSPORT
# port status/data changes -> nova external events (network-vif-plugged,
# network-changed): nova then refreshes its info cache, e.g. floating IPs show up
# in the server's addresses at once instead of after the heal periodic task
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
api_paste_config = $VETC/neutron/api-paste.ini
state_path = $DIR/data/neutron
[agent]
report_interval = 5
[database]
connection = $DBURL/${PFX}_neutron?charset=utf8
[oslo_concurrency]
lock_path = $DIR/data/locks
EOF
authtoken; svcauth nova; } > "$DIR/etc/neutron/neutron.conf"
cat > "$DIR/etc/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan,local
tenant_network_types = local
mechanism_drivers = fake_agent
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
EOF

# the fake L2 agent lives on the nova-compute host (binding:host_id = nova's [DEFAULT] host)
printf '[DEFAULT]\nhost = ostest-compute\n' > "$DIR/etc/neutron/fake-agent.ini"

cp "$VETC/nova/api-paste.ini" "$DIR/etc/nova/api-paste.ini"
{ cat <<EOF
[DEFAULT]
use_stderr = true
transport_url = $TRANSPORT
compute_driver = fake.FakeDriverWithoutFakeNodes
host = ostest-compute
my_ip = $HOSTIP
state_path = $DIR/data/nova
instances_path = $DIR/data/nova/instances
graceful_shutdown_timeout = 5
[wsgi]
api_paste_config = $DIR/etc/nova/api-paste.ini
[api]
auth_strategy = keystone
[api_database]
connection = $DBURL/${PFX}_nova_api?charset=utf8
[database]
connection = $DBURL/${PFX}_nova_cell1?charset=utf8
[oslo_concurrency]
lock_path = $DIR/data/locks
[vnc]
enabled = false
[quota]
instances = 100
cores = 1000
ram = 4096000
[scheduler]
discover_hosts_in_cells_interval = -1
workers = 1
[conductor]
workers = 1
EOF
authtoken; svcauth placement; svcauth neutron; svcauth service_user
echo "send_service_user_token = true"
} > "$DIR/etc/nova/nova.conf"
# nova-compute must not see the databases (it talks to them via conductor)
"$PY" - "$DIR/etc/nova/nova.conf" "$DIR/etc/nova/nova-cpu.conf" <<'EOF'
import configparser, sys
c = configparser.RawConfigParser(); c.optionxform = str; c.read(sys.argv[1])
for s in ('api_database', 'database'): c.remove_section(s)
with open(sys.argv[2], 'w') as f: c.write(f)
EOF

# ---------------------------------------------------------------- databases + vhost
if [ ! -f "$DIR/run/.dbs_created" ]; then
  log "creating MariaDB databases ${PFX}_* and rabbit vhost $VHOST"
  "$PY" - "$DBURL" "$PFX" <<'EOF'
import sys, pymysql
from sqlalchemy.engine import make_url
u = make_url(sys.argv[1]); pfx = sys.argv[2]
c = pymysql.connect(host=u.host, port=u.port or 3306, user=u.username, password=u.password or '')
with c.cursor() as cur:
    for n in ('keystone', 'placement', 'glance', 'neutron', 'nova_api', 'nova_cell0', 'nova_cell1'):
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {pfx}_{n} CHARACTER SET utf8mb4")
EOF
  rabbitmqctl -q add_vhost "$VHOST" >/dev/null 2>&1 || true
  rabbitmqctl -q set_permissions -p "$VHOST" "${OSTEST_AMQP_USER:-guest}" '.*' '.*' '.*' >/dev/null
  touch "$DIR/run/.dbs_created"
fi

if [ ! -f "$DIR/run/.dbs_synced" ]; then
  log "db sync: keystone"
  "$VENV/bin/keystone-manage" --config-file "$DIR/etc/keystone/keystone.conf" db_sync >>"$DIR/log/setup.log" 2>&1
  "$VENV/bin/keystone-manage" --config-file "$DIR/etc/keystone/keystone.conf" fernet_setup --keystone-user root --keystone-group root >>"$DIR/log/setup.log" 2>&1
  "$VENV/bin/keystone-manage" --config-file "$DIR/etc/keystone/keystone.conf" credential_setup --keystone-user root --keystone-group root >>"$DIR/log/setup.log" 2>&1
  "$VENV/bin/keystone-manage" --config-file "$DIR/etc/keystone/keystone.conf" bootstrap \
      --bootstrap-password "$ADMIN_PW" --bootstrap-region-id RegionOne \
      --bootstrap-admin-url "$KS_URL" --bootstrap-internal-url "$KS_URL" --bootstrap-public-url "$KS_URL" >>"$DIR/log/setup.log" 2>&1
  log "db sync: placement"
  "$VENV/bin/placement-manage" --config-file "$DIR/etc/placement/placement.conf" db sync >>"$DIR/log/setup.log" 2>&1
  log "db sync: glance"
  "$VENV/bin/glance-manage" --config-file "$DIR/etc/glance/glance-api.conf" db_sync >>"$DIR/log/setup.log" 2>&1
  log "db sync: neutron"
  "$VENV/bin/neutron-db-manage" --config-file "$DIR/etc/neutron/neutron.conf" --config-file "$DIR/etc/neutron/ml2_conf.ini" upgrade heads >>"$DIR/log/setup.log" 2>&1
  log "db sync: nova"
  NM="$VENV/bin/nova-manage --config-file $DIR/etc/nova/nova.conf"
  $NM api_db sync >>"$DIR/log/setup.log" 2>&1
  $NM cell_v2 map_cell0 --database_connection "$DBURL/${PFX}_nova_cell0?charset=utf8" >>"$DIR/log/setup.log" 2>&1
  $NM cell_v2 create_cell --name cell1 >>"$DIR/log/setup.log" 2>&1 || true
  $NM db sync >>"$DIR/log/setup.log" 2>&1
  touch "$DIR/run/.dbs_synced"
  log "db sync done"
fi

# ---------------------------------------------------------------- process helpers
# start NAME cmd...   (own session; pid in run/NAME.pid; output in log/NAME.log)
start() {
  local name=$1; shift
  if [ -f "$DIR/run/$name.pid" ] && kill -0 "$(cat "$DIR/run/$name.pid")" 2>/dev/null; then
    log "$name already running"; return; fi
  setsid "$@" >>"$DIR/log/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/run/$name.pid"
}
uwsgi_start() {   # NAME PORT MODULE ENV=VAL...
  local name=$1 port=$2 mod=$3; shift 3
  local envs=()
  for e in "$@"; do envs+=(--env "$e"); done
  start "$name" "$VENV/bin/uwsgi" --master --die-on-term --lazy-apps --need-app \
      --http-socket "$HOSTIP:$port" --module "$mod" --virtualenv "$VENV" \
      --processes 1 --threads 8 --buffer-size 65535 --thunder-lock --enable-threads \
      --worker-reload-mercy 3 --reload-mercy 3 \
      --add-header "Connection: close" \
      --procname-prefix "ostest-$ID-" "${envs[@]}"
}
wait_http() {   # NAME URL [timeout]
  local name=$1 url=$2 to=${3:-120} i=0
  until "$PY" -c "import urllib.request,sys
try: urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError as e: sys.exit(0 if e.code < 500 else 1)
except Exception: sys.exit(1)" "$url"; do
    i=$((i+1))
    if ! kill -0 "$(cat "$DIR/run/$name.pid")" 2>/dev/null; then
      log "$name died; tail of log/$name.log:"; tail -30 "$DIR/log/$name.log" >&2; exit 1; fi
    if [ $i -gt $((to*5)) ]; then log "$name not ready after ${to}s"; tail -30 "$DIR/log/$name.log" >&2; exit 1; fi
    sleep 0.2
  done
  log "$name ready ($url)"
}

# ---------------------------------------------------------------- keystone + catalog
uwsgi_start keystone "$KS_PORT" keystone.wsgi.api:application OS_KEYSTONE_CONFIG_DIR="$DIR/etc/keystone"
wait_http keystone "$KS_URL"

cat > "$DIR/openrc" <<EOF
export OS_AUTH_URL=$KS_URL
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PW
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export OS_IDENTITY_API_VERSION=3
export OSTEST_DIR=$DIR
export OSTEST_VENV=$VENV
EOF
cat > "$DIR/clouds.yaml" <<EOF
clouds:
  ostest-admin:
    auth: {auth_url: "$KS_URL", username: admin, password: "$ADMIN_PW", project_name: admin, user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
  ostest-demo:
    auth: {auth_url: "$KS_URL", username: demo, password: demo-pw, project_name: demo, user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
EOF

if [ ! -f "$DIR/run/.catalog_done" ]; then
  log "registering users/services/endpoints"
  "$PY" - "$KS_URL" "$ADMIN_PW" "$SVC_USER" "$SVC_PW" "$HOSTIP" "$PL_PORT" "$GL_PORT" "$NO_PORT" "$NE_PORT" <<'EOF'
import sys, openstack
ks, apw, su, spw, ip, pl, gl, no, ne = sys.argv[1:]
c = openstack.connect(auth_url=ks, username='admin', password=apw, project_name='admin',
                      user_domain_name='Default', project_domain_name='Default', region_name='RegionOne')
idn = c.identity
svcp = idn.create_project(name='service', domain_id='default')
demop = idn.create_project(name='demo', domain_id='default')
roles = {r.name: r for r in idn.roles()}
for rn in ('service', 'member', 'reader'):
    if rn not in roles:
        roles[rn] = idn.create_role(name=rn)
u = idn.create_user(name=su, password=spw, domain_id='default', default_project_id=svcp.id)
for rn in ('admin', 'service'):
    idn.assign_project_role_to_user(svcp, u, roles[rn])
d = idn.create_user(name='demo', password='demo-pw', domain_id='default', default_project_id=demop.id)
idn.assign_project_role_to_user(demop, d, roles['member'])
for name, typ, url in (('placement', 'placement', f'http://{ip}:{pl}'),
                       ('glance', 'image', f'http://{ip}:{gl}'),
                       ('nova', 'compute', f'http://{ip}:{no}/v2.1'),
                       ('neutron', 'network', f'http://{ip}:{ne}')):
    s = idn.create_service(name=name, type=typ)
    for iface in ('public', 'internal', 'admin'):
        idn.create_endpoint(service_id=s.id, interface=iface, url=url, region_id='RegionOne')
EOF
  touch "$DIR/run/.catalog_done"
fi

# ---------------------------------------------------------------- the rest
# conductor first: nova-compute blocks ~10s if no conductor answers its first ping
start nova-conductor "$VENV/bin/nova-conductor" --config-file "$DIR/etc/nova/nova.conf"
start nova-scheduler "$VENV/bin/nova-scheduler" --config-file "$DIR/etc/nova/nova.conf"
uwsgi_start placement "$PL_PORT" placement.wsgi.api:application OS_PLACEMENT_CONFIG_DIR="$DIR/etc/placement"
uwsgi_start glance "$GL_PORT" glance.wsgi.api:application OS_GLANCE_CONFIG_DIR="$DIR/etc/glance"
uwsgi_start neutron "$NE_PORT" neutron.wsgi.api:application OS_NEUTRON_CONFIG_DIR="$DIR/etc/neutron" "OS_NEUTRON_CONFIG_FILES=neutron.conf;ml2_conf.ini"
uwsgi_start nova-api "$NO_PORT" nova.wsgi.osapi_compute:application OS_NOVA_CONFIG_DIR="$DIR/etc/nova"
wait_http placement "http://$HOSTIP:$PL_PORT/"
wait_http glance "http://$HOSTIP:$GL_PORT/versions"
wait_http neutron "http://$HOSTIP:$NE_PORT/"
# RPC (agents' reports, port binding callbacks) is a separate process under uwsgi
start neutron-rpc-server "$VENV/bin/neutron-rpc-server" --config-file "$DIR/etc/neutron/neutron.conf" --config-file "$DIR/etc/neutron/ml2_conf.ini"
start fake-agent "$PY" "$HERE/fake-neutron-agent.py" --config-file "$DIR/etc/neutron/neutron.conf" --config-file "$DIR/etc/neutron/fake-agent.ini"
wait_http nova-api "http://$HOSTIP:$NO_PORT/"
start nova-compute "$VENV/bin/nova-compute" --config-file "$DIR/etc/nova/nova-cpu.conf"

log "waiting for nova services + compute node"
"$PY" - "$DIR" "$VENV" "$T0" <<'EOF'
import datetime, os, subprocess, sys, time, openstack
d, venv, t0 = sys.argv[1], sys.argv[2], float(sys.argv[3])
since = datetime.datetime.fromtimestamp(t0, datetime.timezone.utc).replace(tzinfo=None)
env = {}
for line in open(os.path.join(d, 'openrc')):
    k, v = line.split(' ', 1)[1].strip().split('=', 1); env[k] = v
c = openstack.connect(auth_url=env['OS_AUTH_URL'], username='admin', password=env['OS_PASSWORD'],
                      project_name='admin', user_domain_name='Default', project_domain_name='Default',
                      region_name='RegionOne')
deadline = time.time() + 180
def alive(name):
    try:
        os.kill(int(open(f'{d}/run/{name}.pid').read()), 0); return True
    except OSError:
        return False
# services must have reported *since this start* (a stale row from a previous run looks 'up')
while True:
    for n in ('nova-conductor', 'nova-scheduler', 'nova-compute'):
        if not alive(n):
            sys.exit(f'{n} died, see {d}/log/{n}.log')
    fresh = {s.binary for s in c.compute.services() if s.state == 'up' and s.updated_at
             and datetime.datetime.fromisoformat(s.updated_at.rstrip('Z')) >= since}
    if {'nova-conductor', 'nova-scheduler', 'nova-compute'} <= fresh:
        break
    if time.time() > deadline: sys.exit(f'nova services not up: {fresh}')
    time.sleep(0.5)
# nova-compute creates its compute node + resource provider at start-up ...
while not list(c.placement.resource_providers()):
    if time.time() > deadline: sys.exit('no resource provider in placement')
    time.sleep(0.5)
# ... but the API (os-hypervisors, scheduling) only sees it once the host is mapped
while True:
    subprocess.run([venv + '/bin/nova-manage', '--config-file', d + '/etc/nova/nova.conf',
                    'cell_v2', 'discover_hosts'], check=True, stdout=subprocess.DEVNULL,
                   stderr=open(d + '/log/setup.log', 'a'))
    if [h for h in c.compute.hypervisors(details=True) if h.state == 'up']:
        break
    if time.time() > deadline: sys.exit('compute node never appeared in os-hypervisors')
    time.sleep(0.5)
EOF
log "waiting for the fake L2 agent; creating networks"
"$PY" - "$DIR" <<'EOF'
import os, sys, time, openstack
d = sys.argv[1]
ks = [l.split('=', 1)[1].strip() for l in open(f'{d}/openrc') if l.startswith('export OS_AUTH_URL=')][0]
mk = lambda u, p, pr: openstack.connect(auth_url=ks, username=u, password=p, project_name=pr,
    user_domain_name='Default', project_domain_name='Default', region_name='RegionOne')
admin = mk('admin', 'ostest-admin-pw', 'admin'); demo = mk('demo', 'demo-pw', 'demo')
PRIVATE_CIDR, PUBLIC_CIDR = '127.77.0.0/24', '127.78.0.0/24'
deadline = time.time() + 120
while not [a for a in admin.network.agents(host='ostest-compute') if a.is_alive]:
    if time.time() > deadline: sys.exit(f'fake agent not alive, see {d}/log/fake-agent.log')
    time.sleep(0.5)
if os.path.exists(f'{d}/run/.net_done'):
    sys.exit(0)
pub = admin.network.create_network(name='public', is_router_external=True, is_shared=False,
                                   provider_network_type='flat', provider_physical_network='public')
# Both subnets are in 127.0.0.0/8 (neutron takes a loopback subnet without DHCP): there is
# no data plane, but on Linux every 127/8 address answers on the host's loopback, so a
# health check that pings a server's fixed or floating address gets a real reply.
admin.network.create_subnet(network_id=pub.id, name='public-subnet', ip_version=4, cidr=PUBLIC_CIDR,
                            gateway_ip=PUBLIC_CIDR.replace('.0/24', '.1'), is_dhcp_enabled=False)
net = demo.network.create_network(name='private')          # tenant type 'local'
sub = demo.network.create_subnet(network_id=net.id, name='private-subnet', ip_version=4,
                                 cidr=PRIVATE_CIDR, is_dhcp_enabled=False)
r = demo.network.create_router(name='router1', external_gateway_info={'network_id': pub.id})
demo.network.add_interface_to_router(r, subnet_id=sub.id)
open(f'{d}/run/.net_done', 'w').close()
EOF
log "OpenStack ready: source $DIR/openrc  (or OS_CLIENT_CONFIG_FILE=$DIR/clouds.yaml, cloud ostest-admin / ostest-demo)"
echo "$DIR"
