"""Config managers: none, puppet_solo as Occopus defined it, chef refused; plugins."""

from __future__ import annotations

import pytest
from conftest import make_request

from occo.servicecomposer import (
    ChefConfigManager,
    ConfigManagementError,
    ConfigManager,
    NoConfigManager,
    NotSupportedError,
    PuppetSoloConfigManager,
    ServiceComposer,
)
from occo.util import plugin_names

PUPPET = {"type": "puppet_solo", "manifests": ["https://x/site.pp", "https://x/db.pp"],
          "modules": ["puppetlabs-mysql"],
          "attributes": [{"dbhost": "{{ getip('db') }}"}, {"dbport": "{{ variables.port }}"}]}
TEMPLATE = ("#cloud-config\nwrite_files:\n- content: '{{ puppet.modules }}'\n  path: /m\n"
            "- content: '{{ puppet.manifests }}'\n  path: /p\n"
            "- content: \"{{ puppet.attributes }}\"\n  path: /a\n")


def test_the_built_ins_are_registered_as_entry_points():
    assert {"none", "puppet_solo", "chef"} <= set(plugin_names("occo.configmanager"))


def test_puppet_solo_contributes_names_to_the_cloud_init_template(composer):
    request = make_request(config_management=PUPPET, variables={"port": 3306},
                           contextualisation={"type": "cloudinit", "context_template": TEMPLATE})
    data = composer.resolve(request).context["user_data"]
    assert "content: 'puppetlabs-mysql'" in data
    assert "content: 'https://x/site.pp https://x/db.pp'" in data
    assert "content: \"{'dbhost': '10.0.0.5'} {'dbport': 3306}\"" in data


def test_puppet_solo_hieradata_and_a_mapping_of_attributes(composer):
    section = {**PUPPET, "attributes": {"a": "{{ name }}", "b": 2}}
    request = make_request(config_management=section, contextualisation={
        "type": "basic", "attributes": {"attrs": "{{ puppet.attributes }}",
                                        "hiera": "{{ puppet.hieradata }}"}})
    attrs = composer.resolve(request).context["attributes"]
    assert attrs == {"attrs": "{'a': 'web'} {'b': 2}", "hiera": "a: web\nb: 2\n"}


@pytest.mark.parametrize("section, problem", [
    ({"type": "puppet_solo"}, "needs 'manifests'"),
    ({"type": "puppet_solo", "manifests": ["m"], "modlues": []},
     "unknown key 'modlues' in config_management of type puppet_solo"),
    ({"type": "puppet_solo", "manifests": ["m"], "attributes": "x"},
     "attributes must be a list of mappings"),
    ({"type": "puppet_solo", "manifests": {"a": 1}}, "manifests must be a list of strings"),
    ({"type": "none", "endpoint": "x"}, "config_management type 'none' takes no other keys"),
])
def test_bad_config_management_sections(composer, section, problem):
    with pytest.raises(ConfigManagementError) as info:
        composer.resolve(make_request(config_management=section))
    assert problem in str(info.value) and "node 'web'" in str(info.value)
    assert info.value.exit_code == 2


def test_chef_is_refused_naming_the_alternatives(composer):
    section = {"type": "chef", "endpoint": "https://chef", "run_list": ["recipe[x]"]}
    with pytest.raises(NotSupportedError) as info:
        composer.resolve(make_request(config_management=section))
    message = str(info.value)
    assert "config_management type 'chef' is not supported by OCCO" in message
    assert "puppet_solo" in message and "cloud-init" in message
    assert message.startswith("config_management.type: node 'web'")


def test_the_endpoint_says_which_types_are_refused_before_a_build(composer):
    from occo.servicecomposer.endpoint import ComposerEndpoint
    found = ComposerEndpoint(composer).config_managers()
    assert {"none", "puppet_solo", "chef"} <= set(found["types"])
    assert list(found["unsupported"]) == ["chef"]
    assert found["unsupported"]["chef"] == ChefConfigManager.unsupported


def test_an_unknown_type_lists_the_known_ones(composer):
    with pytest.raises(ConfigManagementError) as info:
        composer.resolve(make_request(config_management={"type": "ansible"}))
    assert str(info.value) == ("config_management.type: node 'web': unknown "
                               "config_management type 'ansible'; known: chef, none, puppet_solo")


class ReadyAfterTwo(ConfigManager):
    """A plugin with a post-start step and names of its own."""

    name = "counting"

    def __init__(self) -> None:
        self.asked = 0

    def template_names(self, section, where):
        return {"counting": {"role": section.get("role")}}

    def ready(self, section, *, instance_id, address):
        self.asked += 1
        return self.asked >= 2


def test_plugins_given_explicitly_with_a_post_start_step(lookup):
    plugin = ReadyAfterTwo()
    managers = {"counting": plugin, "none": NoConfigManager()}
    with ServiceComposer(lookup, config_managers=managers) as composer:
        request = make_request(config_management={"type": "counting", "role": "{{ name }}"},
                               contextualisation={"type": "basic",
                                                  "attributes": {"r": "{{ counting.role }}"}})
        assert composer.resolve(request).context["attributes"] == {"r": "web"}
        assert composer.config_ready(request, "127.0.0.1") is False
        assert composer.config_ready(request, "127.0.0.1") is True
        assert composer.config_ready(make_request(), "127.0.0.1") is True


def test_none_and_puppet_solo_need_no_post_start_step():
    for manager in (NoConfigManager(), PuppetSoloConfigManager()):
        assert manager.ready({}, instance_id="i", address="127.0.0.1") is True
    assert ChefConfigManager.name == "chef"
