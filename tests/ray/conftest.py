"""The Ray tests' environment, set before anything imports Ray (Ray reads it when it loads): token authentication
on, with a fresh token, for the test cluster's nodes, the drivers in this process and the `podium run` commands the
tests start. Ray 2.59 and later turn token authentication on by default for some clusters, and a node or driver that
disagrees with the head cannot join; setting it everywhere keeps them in agreement."""

from __future__ import annotations

import os
import secrets

os.environ["RAY_AUTH_MODE"] = "token"
os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
