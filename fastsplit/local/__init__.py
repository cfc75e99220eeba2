"""Run a split app locally, as deployed: ``fastsplit serve``, ``invoke`` and ``verify``.

- :mod:`~fastsplit.local.deployment`: a build's functions and where their code is (the
  function folders, or the unzipped artifacts of ``fastsplit package``);
- :mod:`~fastsplit.local.worker`, :mod:`~fastsplit.local.pool`: each function in its
  own process (:mod:`~fastsplit.local.bootstrap` runs inside it);
- :mod:`~fastsplit.local.events`: HTTP requests to payload 2.0 events and back;
- :mod:`~fastsplit.local.server`: the HTTP API gateway over real HTTP;
- :mod:`~fastsplit.local.split`: all of the above in one object;
- :mod:`~fastsplit.local.verify` (with :mod:`~fastsplit.local.cases`,
  :mod:`~fastsplit.local.schema`, :mod:`~fastsplit.local.compare`): the monolith and the
  split given the same requests, their answers compared;
- :mod:`~fastsplit.local.watch`: rebuilds for ``serve --reload``.

Library code: it raises :class:`LocalError` (a ``FastsplitError``) and reports through
callbacks; ``fastsplit.cli_local`` prints.
"""

from fastsplit.local.deployment import Deployment, LocalError
from fastsplit.local.split import LocalSplit
from fastsplit.local.verify import Report, VerifyOptions, verify

__all__ = ["Deployment", "LocalError", "LocalSplit", "Report", "VerifyOptions", "verify"]
