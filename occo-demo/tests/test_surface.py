"""The package's public names, and the node programs' standard-library-only promise."""

from __future__ import annotations

import subprocess
import sys

import occo.demo


def test_every_public_name_resolves():
    for name in occo.demo.__all__:
        assert getattr(occo.demo, name) is not None, name


def test_node_programs_import_only_the_standard_library():
    code = ("import sys\n"
            "before = set(sys.modules)\n"
            "import occo.demo.kvstore, occo.demo.web, occo.demo.balancer, occo.demo.ping\n"
            "new = sorted(m.split('.')[0] for m in set(sys.modules) - before)\n"
            "print('\\n'.join(sorted(set(new))))\n")
    proc = subprocess.run([sys.executable, "-I", "-c", code], text=True, capture_output=True,
                          check=True)
    top_level = set(proc.stdout.split())
    outside = {m for m in top_level if m not in sys.stdlib_module_names and m != "occo"}
    assert outside == set()
    occo_modules = subprocess.run(
        [sys.executable, "-I", "-c", "import sys, occo.demo.web, occo.demo.balancer, "
         "occo.demo.kvstore, occo.demo.ping; print(sorted(m for m in sys.modules "
         "if m.startswith('occo')))"], text=True, capture_output=True, check=True).stdout
    assert "occo.api" not in occo_modules and "occo.util" not in occo_modules
    assert "occo.demo._node" in occo_modules
