"""The events a fastgrad profile records (one per op call and per record_function range), their
averages by name, and torch's key_averages().table() layout."""
import json
import time

__all__ = ["FunctionEvent", "FunctionEventAvg", "EventList", "Recorder"]


def _format_time(us):
    if us >= 1e6:
        return "%.3fs" % (us / 1e6)
    if us >= 1e3:
        return "%.3fms" % (us / 1e3)
    return "%.3fus" % us


def _format_pct(x, total):
    return "%.2f%%" % (100.0 * x / total if total else 0.0)


class Interval:
    def __init__(self, start, end):
        self.start = start
        self.end = end

    def elapsed_us(self):
        return self.end - self.start


class FunctionEvent:
    """One recorded call: name, CPU time range (us from the profile's start), input shapes, nesting."""

    def __init__(self, id, name, thread, start_us, end_us=None, input_shapes=None, is_user_annotation=False):  # noqa: A002
        self.id = id
        self.name = name
        self.thread = thread
        self.time_range = Interval(start_us, end_us if end_us is not None else start_us)
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.cpu_children = []
        self.cpu_parent = None
        self.is_user_annotation = is_user_annotation
        self.device_type = "cpu"
        self.count = 1
        self.cpu_memory_usage = 0
        self.device_time_total = 0
        self.self_device_time_total = 0
        self.flops = 0

    @property
    def key(self):
        return self.name

    @property
    def cpu_time_total(self):
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def cpu_time(self):
        return self.cpu_time_total

    def __repr__(self):
        return ("<FunctionEvent id=%d name=%s cpu_time=%s start_us=%.3f end_us=%.3f input_shapes=%s>"
                % (self.id, self.name, _format_time(self.cpu_time_total), self.time_range.start,
                   self.time_range.end, self.input_shapes))


class FunctionEventAvg:
    """The events of one key (name, or name and input shapes) summed: count, CPU total and self times."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes = None
        self.node_id = 0
        self.is_user_annotation = False
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.device_time_total = 0
        self.self_device_time_total = 0
        self.flops = 0
        self.stack = []

    def add(self, other):
        if self.key is None:
            self.key = other.key
            self.input_shapes = other.input_shapes
            self.is_user_annotation = other.is_user_annotation
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        return self

    def __iadd__(self, other):
        return self.add(other)

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def self_cpu_time(self):
        return self.self_cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return ("<FunctionEventAvg key=%s self_cpu_time=%s cpu_time=%s input_shapes=%s>"
                % (self.key, _format_time(self.self_cpu_time_total), _format_time(self.cpu_time_total),
                   self.input_shapes))


class EventList(list):
    """A list of FunctionEvent (or FunctionEventAvg) with torch's table, averages and trace export."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args)
        self._with_shapes = kwargs.get("with_shapes", False)

    @property
    def self_cpu_time_total(self):
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        groups = {}
        for e in self:
            key = (e.key, str(e.input_shapes)) if group_by_input_shape else e.key
            groups.setdefault(key, FunctionEventAvg()).add(e)
        return EventList(groups.values(), with_shapes=group_by_input_shape)

    def total_average(self):
        total = FunctionEventAvg()
        for e in self:
            total.add(e)
        total.key = "Total"
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False, time_unit=None):
        events = [e for e in self if not top_level_events_only or getattr(e, "cpu_parent", None) is None]
        if sort_by is not None:
            events = sorted(events, key=lambda e: getattr(e, sort_by), reverse=True)
        if row_limit is not None and row_limit >= 0:
            events = events[:row_limit]
        total = self.self_cpu_time_total
        name_w = min(max([len(e.key) for e in events] + [4]) + 4, max_name_column_width)
        headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
        widths = [name_w] + [12] * 6
        if self._with_shapes:
            shapes_w = min(max([len(str(e.input_shapes)) for e in events] + [12]) + 4, max_shapes_column_width)
            headers.append("Input Shapes")
            widths.append(shapes_w)

        def row(cells):
            return "".join(("{:>%d}" % w).format(c) + "  " for c, w in zip(cells, widths))

        sep = "".join("-" * w + "  " for w in widths)
        lines = []
        if header is not None:
            lines += ["=" * len(sep), header]
        lines += [sep, row(headers), sep]
        for e in events:
            name = e.key if len(e.key) <= name_w - 4 or name_w < 7 else e.key[:name_w - 7] + "..."
            cells = [name, _format_pct(e.self_cpu_time_total, total), _format_time(e.self_cpu_time_total),
                     _format_pct(e.cpu_time_total, total), _format_time(e.cpu_time_total),
                     _format_time(e.cpu_time), str(e.count)]
            if self._with_shapes:
                cells.append(str(e.input_shapes)[:widths[-1]])
            lines.append(row(cells))
        lines.append(sep)
        lines.append("Self CPU time total: %s" % _format_time(total))
        return "\n".join(lines) + "\n"

    def export_chrome_trace(self, path):
        """Write the events in the Chrome trace-event format (chrome://tracing, Perfetto, TensorBoard)."""
        import os

        trace = {"traceEvents": [
            {"ph": "X", "cat": "user_annotation" if e.is_user_annotation else "cpu_op", "name": e.name,
             "pid": os.getpid(), "tid": e.thread, "ts": e.time_range.start, "dur": e.cpu_time_total,
             "args": {"Input Dims": e.input_shapes} if e.input_shapes else {}}
            for e in self], "displayTimeUnit": "ms"}
        if str(path).endswith(".gz"):
            import gzip

            with gzip.open(path, "wt") as f:
                json.dump(trace, f)
        else:
            with open(path, "w") as f:
                json.dump(trace, f)

    def __str__(self):
        return self.table()


def _op_name(fn):
    return "fastgrad::" + fn.__name__.lstrip("_").lower()


class Recorder:
    """What fastgrad._engine calls while a profile records: times each op call and keeps the events."""

    def __init__(self, record_shapes=False):
        self.active_fn = None
        self.record_shapes = record_shapes
        self.events = []
        self.stack = []
        self.t0 = time.perf_counter_ns()
        import threading

        self.thread = threading.get_ident()

    def now_us(self):
        return (time.perf_counter_ns() - self.t0) / 1000.0

    def open(self, name, inputs=None, user=False):
        shapes = []
        if self.record_shapes and inputs is not None:
            shapes = [list(a.shape) if hasattr(a, "_data") else [] for a in inputs]
        e = FunctionEvent(len(self.events), name, self.thread, self.now_us(), None, shapes, user)
        if self.stack:
            e.cpu_parent = self.stack[-1]
            self.stack[-1].cpu_children.append(e)
        self.events.append(e)
        self.stack.append(e)
        return e

    def close(self, e):
        e.time_range.end = self.now_us()
        if self.stack and self.stack[-1] is e:
            self.stack.pop()
        elif e in self.stack:
            self.stack.remove(e)

    def run(self, fn, apply, args, inputs):
        prev = self.active_fn
        self.active_fn = fn
        e = self.open(_op_name(fn), inputs)
        try:
            return apply(*args)
        finally:
            self.close(e)
            self.active_fn = prev
