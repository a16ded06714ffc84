#!/usr/bin/env python3
"""A fake neutron L2 agent for the fake_agent ML2 mechanism driver.

Usage: VENV/bin/python fake-neutron-agent.py --config-file neutron.conf [--host H]

It never touches the data plane. It only
  * heartbeats over RPC (topic q-reports-plugin) as an agent of type
    'OFA driver agent' (constants.AGENT_TYPE_OFA) on HOST, so the ML2 driver
    neutron.tests.unit...mech_fake_agent:FakeAgentMechanismDriver ('fake_agent')
    binds ports whose binding:host_id is HOST (vif_type ovs);
  * every --poll seconds asks the plugin (topic q-plugin) for the ports bound
    to HOST and reports the DOWN ones as up, so they go ACTIVE.
"""
import sys
import time

from neutron.agent import rpc as agent_rpc
from neutron.common import config as common_config
from neutron.conf.agent import common as agent_conf
from neutron_lib import constants
from neutron_lib import context as n_context
from neutron_lib.agent import topics
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger('ostest-fake-agent')
cfg.CONF.register_cli_opts([cfg.FloatOpt('poll', default=1.0,
                                         help='port poll interval (s)')])
agent_conf.register_agent_state_opts_helper(cfg.CONF)
common_config.register_common_config_options()
common_config.init(sys.argv[1:])          # parses config, n_rpc.init(transport)
common_config.setup_logging()

HOST = cfg.CONF.host
AGENT_ID = 'ostest-fake-agent-' + HOST
ctx = n_context.get_admin_context_without_session()
state_rpc = agent_rpc.PluginReportStateAPI(topics.REPORTS)
plugin_rpc = agent_rpc.PluginApi(topics.PLUGIN)
state = {
    'binary': 'ostest-fake-agent',
    'host': HOST,
    'topic': 'N/A',
    'agent_type': constants.AGENT_TYPE_OFA,
    # read by FakeAgentMechanismDriver.get_mappings / get_allowed_network_types
    # (local, flat, vlan are always allowed; flat/vlan need the physnet here)
    'configurations': {'interface_mappings': {'physnet1': 'fake0',
                                              'public': 'fake1'},
                       'tunnel_types': []},
    'start_flag': True,
}

# first report is a call, retried until a neutron-rpc-server answers
while True:
    try:
        state_rpc.report_state(ctx, state, use_call=True)
        break
    except Exception as e:  # MessagingTimeout while the rpc server starts
        LOG.warning('first report_state failed (%s); retrying', e)
        time.sleep(1)
state.pop('start_flag')
LOG.info('registered as %s agent on host %s', constants.AGENT_TYPE_OFA, HOST)

interval = cfg.CONF.AGENT.report_interval
next_report = time.monotonic() + interval
while True:
    now = time.monotonic()
    if now >= next_report:
        try:
            state_rpc.report_state(ctx, state)
        except Exception:
            LOG.exception('report_state failed')
        next_report = now + interval
    try:
        ports = plugin_rpc.get_ports_by_vnic_type_and_host(
            ctx, 'normal', HOST)
        down = [p['id'] for p in ports
                if p.get('status') != constants.PORT_STATUS_ACTIVE]
        if down:
            r = plugin_rpc.update_device_list(ctx, down, [], AGENT_ID, HOST)
            LOG.info('ports up: %s failed: %s', r.get('devices_up'),
                     r.get('failed_devices_up'))
    except Exception:
        LOG.exception('port poll failed')
    time.sleep(cfg.CONF.poll)
