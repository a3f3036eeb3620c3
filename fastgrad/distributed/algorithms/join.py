"""torch.distributed.algorithms.join: the generic join context manager for training with uneven inputs.
Ranks that run out of inputs first ("join") keep running their Joinables' JoinHook.main_hook, which shadows
the collectives the other ranks still run in each iteration, until every rank has joined; then each hook's
post_hook runs. Join itself all-reduces the count of ranks not yet joined once per shadowed iteration
(matched on the other ranks by Join.notify_join_context at the start of their iteration)."""
import warnings
from abc import ABC, abstractmethod
from typing import NamedTuple

import fastgrad
import fastgrad.distributed as dist

__all__ = ["JoinHook", "Joinable", "Join"]


class JoinHook:
    """A join hook: main_hook() is called repeatedly while some rank has not joined (it shadows one training
    iteration's collectives: forward, backward and optimizer step), post_hook(is_last_joiner) once when
    every rank has joined. Subclass and override them."""

    def main_hook(self):
        """Shadow the collective communications of one training iteration of the ranks not yet joined."""

    def post_hook(self, is_last_joiner):
        """Called once every rank has joined; is_last_joiner: whether this rank is one of the last to join."""


class Joinable(ABC):
    """A class usable in Join: implements join_hook(**kwargs) (its JoinHook), join_device and
    join_process_group (where Join's own collectives run), and calls Join.notify_join_context(self)
    before its own collectives of each iteration."""

    @abstractmethod
    def __init__(self):
        super().__init__()
        self._join_config = _JoinConfig.construct_disabled_join_config()

    @abstractmethod
    def join_hook(self, **kwargs):
        """The JoinHook of this Joinable; kwargs are the ones given to Join (the same for every Joinable)."""
        ...

    @property
    @abstractmethod
    def join_device(self):
        """The device of the join context manager's collectives."""
        ...

    @property
    @abstractmethod
    def join_process_group(self):
        """The process group of the join context manager's collectives."""
        ...


class _JoinConfig(NamedTuple):
    enable: bool
    throw_on_early_termination: bool
    is_first_joinable: bool

    @staticmethod
    def construct_disabled_join_config():
        return _JoinConfig(enable=False, throw_on_early_termination=False, is_first_joinable=False)


class Join:
    """with Join([joinable, ...], enable=True, throw_on_early_termination=False, **kwargs): the loop inside
    may run a different number of iterations on each rank; on exit, a rank that finished early shadows the
    others' iterations with its Joinables' main hooks until every rank has finished, then runs the post
    hooks. throw_on_early_termination: every rank raises a RuntimeError as soon as one runs out of inputs
    instead. The Joinables must share one process group."""

    def __init__(self, joinables, enable=True, throw_on_early_termination=False, **kwargs):
        if len(joinables) == 0:
            raise ValueError("The join context manager requires at least one joinable")
        self._joinables = joinables
        self._join_hooks = [joinable.join_hook(**kwargs) for joinable in self._joinables]
        self._enable = enable
        self._throw_on_early_termination = throw_on_early_termination
        self._set_joinable_configs()
        self._extract_dist_info()

    def _set_joinable_configs(self):
        is_first_joinable = True
        for joinable in self._joinables:
            joinable._join_config = _JoinConfig(enable=self._enable,
                                                throw_on_early_termination=self._throw_on_early_termination,
                                                is_first_joinable=is_first_joinable)
            is_first_joinable = False

    def _extract_dist_info(self):
        process_group = None
        device = None
        for joinable in self._joinables:
            if process_group is None:
                process_group = joinable.join_process_group
            elif process_group != joinable.join_process_group:
                raise ValueError("Using join context manager with multiple process groups")
            if device is None:
                device = joinable.join_device
        self._process_group = process_group
        self._rank = dist.get_rank(self._process_group)
        self._device = device

    def __enter__(self):
        ...

    def __exit__(self, type, value, traceback):
        """Run the main hooks until every rank has joined, then the post hooks (RuntimeError when
        throw_on_early_termination)."""
        if not self._enable or type:
            return  # propagate the exception directly if one was raised
        all_procs_joined = False
        is_last_joiner = True
        i = 0
        WARN_THRESHOLD = 1000  # noqa: N806  (torch's name)
        while not all_procs_joined:
            if i > WARN_THRESHOLD:
                warnings.warn(
                    "Detected uneven input skew of greater than "
                    f"{WARN_THRESHOLD}. This means that rank "
                    f"{self._rank} has at least {WARN_THRESHOLD} "
                    f"fewer inputs than other currently-active ranks. "
                    "This level of skew could lead to performance "
                    "degradation during training.", stacklevel=2)
            num_nonjoined_procs = self._get_num_nonjoined_procs()
            if num_nonjoined_procs == 0:
                all_procs_joined = True
            else:
                if self._throw_on_early_termination:
                    self._notify_procs_to_terminate()
                for join_hook in self._join_hooks:
                    join_hook.main_hook()
                is_last_joiner = False
                i += 1
        for join_hook in self._join_hooks:
            join_hook.post_hook(is_last_joiner)

    def _get_num_nonjoined_procs(self):
        num_nonjoined_procs = fastgrad.zeros(1, device=self._device)
        dist.all_reduce(num_nonjoined_procs, group=self._process_group)
        return num_nonjoined_procs.item()

    def _notify_procs_to_terminate(self):
        ones = fastgrad.ones(1, device=self._device)
        dist.all_reduce(ones, group=self._process_group)
        raise RuntimeError(f"Rank {self._rank} exhausted all inputs.")

    @staticmethod
    def notify_join_context(joinable):
        """Tell the join context manager that this rank has not joined (an async all-reduce of ones, the
        Work returned, for the first Joinable; None for the others); with throw_on_early_termination, raise
        if a rank has already joined."""
        if not hasattr(joinable, "_join_config"):
            raise AssertionError(f"Check that the {type(joinable)} constructor calls the ``Joinable`` constructor")
        join_config = joinable._join_config
        if not join_config.is_first_joinable or not join_config.enable:
            return None
        device = joinable.join_device
        process_group = joinable.join_process_group
        ones = fastgrad.ones(1, device=device)
        work = dist.all_reduce(ones, group=process_group, async_op=True)
        if join_config.throw_on_early_termination:
            zeros = fastgrad.zeros(1, device=device)
            dist.all_reduce(zeros, group=process_group)
            should_throw = zeros.item()
            if should_throw:
                raise RuntimeError("Detected at least one rank that exhausted inputs. Throwing across all ranks.")
        return work
