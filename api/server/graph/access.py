"""The app's graph: its store, the lock a scan's rewrite takes, and the caches every request
shares (the region index and the ownership view), rebuilt when a scan (of this process or of
another worker process) replaces the graph. One request's view of it is
:class:`api.server.graph.scoped.ScopedGraph`."""

from __future__ import annotations

import gc
import logging
import threading

from api.server.graph.lock import ReadWriteLock
from api.server.graph.ownership import OwnershipView, build_ownership
from api.server.graph.regions import RegionIndex
from graph_models.store import GraphStore

__all__ = ["GraphAccess"]

log = logging.getLogger("riskgraph.api")


class GraphAccess:
    """The app's store with its lock and shared caches (invalidated when a scan rewrites it).

    Parameters
    ----------
    store : GraphStore
        The graph every request reads.
    freeze_gc : bool
        ``gc.freeze()`` the heap once the caches are built (see :func:`_freeze_long_lived`).
    generation : int
        Id of the last API scan whose graph ``store`` holds (0: none). With several worker
        processes, a worker whose generation is behind the state DB's reloads (:meth:`refresh`).
    reopen : bool
        :meth:`refresh` opens the store afresh (:meth:`GraphStore.reopen`: an embedded store
        re-reads its workspace) when the store can be, and this process opened it; otherwise it
        keeps the store and rebuilds the caches (a server store: every process already reads the
        same database).
    """

    def __init__(
        self,
        store: GraphStore,
        freeze_gc: bool = False,
        *,
        generation: int = 0,
        reopen: bool = False,
    ) -> None:
        self.store = store
        self.lock = ReadWriteLock()
        self._build = threading.Lock()
        self._index: RegionIndex | None = None
        self._ownership: OwnershipView | None = None
        self._ownership_built = False
        #: set once :meth:`warm` has finished (whether it built the caches or failed)
        self.warmed = threading.Event()
        #: nodes in the graph, counted when warming (None before): an empty graph is not warm
        self.node_count: int | None = None
        #: after warming, hide the long-lived heap from the garbage collector (a process-wide
        #: choice, so only the server process makes it: ``riskgraph serve``)
        self.freeze_gc = freeze_gc
        self.generation = generation
        self._reopen = reopen
        #: held by a scan of this process and by :meth:`refresh`, so neither reads a graph the
        #: other is half-way through rewriting
        self.updating = threading.RLock()
        #: what the graph says about the ids each flag names, and what each scope and role may
        #: see of them (``api.server.flag_views.FlagReader``); emptied with the graph
        self.flag_cache: dict = {}

    def region_index(self) -> RegionIndex:
        if self._index is None:
            with self._build:
                if self._index is None:
                    self._index = _build_region_index(self.store)
        return self._index

    def ownership(self) -> OwnershipView | None:
        if not self._ownership_built:
            with self._build:
                if not self._ownership_built:
                    self._ownership = build_ownership(self.store)
                    self._ownership_built = True
        return self._ownership

    def warm(self) -> None:
        """Build the shared caches now (the app does this in the background at startup).

        A failure here is logged and left to the first request, which builds them again.
        """
        try:
            with self.lock.reading():
                self.region_index()
                self.ownership()
                self.node_count = _count_nodes(self.store)
            if self.freeze_gc:
                _freeze_long_lived()
        except Exception:
            log.exception("warming the graph caches failed; the first request will retry")
        finally:
            self.warmed.set()

    @property
    def ready(self) -> bool:
        """The region index is built: a ScopedGraph can be made without waiting."""
        return self._index is not None

    def invalidate(self) -> None:
        with self._build:
            self._index = None
            self._ownership = None
            self._ownership_built = False
            self.flag_cache = {}
        if self.freeze_gc:
            gc.unfreeze()  # the old graph's structures may be collected again (warm re-freezes)

    def refresh(self, generation: int, *, reopen: bool | None = None) -> bool:
        """Serve the graph of scan ``generation``, written by another worker process (or by a
        scan of this one that committed a new workspace generation: ``reopen=True``).

        The new store (or, when it is not reopened, the same one) and its caches are built first,
        while requests go on reading the current graph; the swap then waits only for the
        requests in flight. Returns False (and does nothing) when this process is already at
        ``generation`` or later.
        """
        with self.updating:
            if generation <= self.generation:
                return False
            store = self.store.reopen() if (self._reopen if reopen is None else reopen) else None
            if store is not None:
                index, ownership = _build_region_index(store), build_ownership(store)
            else:
                store = self.store
                with self.lock.reading():
                    index, ownership = _build_region_index(store), build_ownership(store)
            with self.lock.writing(), self._build:
                old, self.store = self.store, store
                self._index, self._ownership, self._ownership_built = index, ownership, True
                self.flag_cache = {}
                self.generation = generation
                self.node_count = _count_nodes(store)
            if old is not store:
                old.close()
            if self.freeze_gc:
                gc.unfreeze()  # let the old graph go, then hide the new one
                _freeze_long_lived()
        log.info("now serving the graph of scan %s", generation)
        return True


def _count_nodes(store: GraphStore) -> int:
    return int(sum(store.counts()["nodes"].values()))


def _build_region_index(store: GraphStore) -> RegionIndex:
    # A store's first walk builds its lookup structures (the memory store's CSR adjacency, GBs
    # on a large graph); do it once here rather than in every concurrent first request.
    store.get_entity("\x00warm-up")
    return RegionIndex(store)


def _freeze_long_lived() -> None:
    """Move everything alive now (the loaded graph, the caches just built: about a million
    container objects at 100k households) out of the garbage collector's sight.

    They live until the graph is replaced, but a full collection walks them all: measured 217 ms
    at 100k households, a stall of every request in flight whenever the collector decided to
    run (the API's p99 at low load). ``gc.freeze`` is the standard remedy for a long-lived heap.
    """
    gc.collect()
    gc.freeze()
