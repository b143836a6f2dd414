#!/usr/bin/env python3
"""Runs every host-tier test file (tests/host/test_*.py); see harness.py.
    python3 tests/host/run_host.py [-k substring[,substring...]]"""
import glob
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_*.py"))):
    importlib.import_module(os.path.splitext(os.path.basename(path))[0])

sys.exit(harness.main())
