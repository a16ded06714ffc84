"""Test support shipped with occo-cloudhandler, for the tests of this package and of the
packages above it (occo-api's end-to-end tests, tools/bench):

- :mod:`occo.cloudhandler.testing.openstackenv`: a real OpenStack control plane on
  loopback (keystone, placement, glance, neutron, nova with the fake virt driver), started
  from the scripts in ``openstack/`` beside it.
"""
