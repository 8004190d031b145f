"""Read what the driver needs from a logsieve model artifact: its spec.

The artifact is MessagePack (artifact/src/codec.rs): an envelope
`{format, version, sha256, model: bin}` around the MessagePack of the model
`{spec, fitted}`, both with named fields. This is a reader for the subset
rmp-serde writes, enough to look at the spec (is the model windowed?). The
component still decodes and validates the artifact itself; nothing here
writes artifacts (`logsieve assemble` does, with the Rust codec).

Standard library only.
"""

import struct


class MsgpackError(ValueError):
    pass


def unpack(data):
    """Decode one MessagePack value that fills `data`."""
    value, at = _value(memoryview(data), 0)
    if at != len(data):
        raise MsgpackError(f"{len(data) - at} trailing bytes")
    return value


def _need(buf, at, n):
    if at + n > len(buf):
        raise MsgpackError("truncated")


def _value(buf, at):
    _need(buf, at, 1)
    b = buf[at]
    at += 1
    if b <= 0x7F:
        return b, at
    if b >= 0xE0:
        return b - 0x100, at
    if 0x80 <= b <= 0x8F:
        return _map(buf, at, b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return _array(buf, at, b & 0x0F)
    if 0xA0 <= b <= 0xBF:
        return _str(buf, at, b & 0x1F)
    if b == 0xC0:
        return None, at
    if b == 0xC2:
        return False, at
    if b == 0xC3:
        return True, at
    fixed = {0xCA: ">f", 0xCB: ">d", 0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
             0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
    if b in fixed:
        fmt = fixed[b]
        n = struct.calcsize(fmt)
        _need(buf, at, n)
        return struct.unpack_from(fmt, buf, at)[0], at + n
    lengths = {0xC4: (">B", "bin"), 0xC5: (">H", "bin"), 0xC6: (">I", "bin"),
               0xD9: (">B", "str"), 0xDA: (">H", "str"), 0xDB: (">I", "str"),
               0xDC: (">H", "array"), 0xDD: (">I", "array"), 0xDE: (">H", "map"), 0xDF: (">I", "map")}
    if b in lengths:
        fmt, kind = lengths[b]
        n = struct.calcsize(fmt)
        _need(buf, at, n)
        size = struct.unpack_from(fmt, buf, at)[0]
        at += n
        if kind == "bin":
            _need(buf, at, size)
            return bytes(buf[at:at + size]), at + size
        return {"str": _str, "array": _array, "map": _map}[kind](buf, at, size)
    raise MsgpackError(f"unsupported MessagePack marker 0x{b:02x}")


def _str(buf, at, n):
    _need(buf, at, n)
    return bytes(buf[at:at + n]).decode("utf-8"), at + n


def _array(buf, at, n):
    out = []
    for _ in range(n):
        v, at = _value(buf, at)
        out.append(v)
    return out, at


def _map(buf, at, n):
    out = {}
    for _ in range(n):
        k, at = _value(buf, at)
        v, at = _value(buf, at)
        out[k] = v
    return out, at


def read_model(data):
    """The model `{spec, fitted}` of an artifact's bytes (no checksum check: the component does that)."""
    env = unpack(data)
    if not isinstance(env, dict) or env.get("format") != "logsieve-model" or not isinstance(env.get("model"), bytes):
        raise MsgpackError("not a logsieve model artifact")
    return unpack(env["model"])


def stateful_parts(spec):
    """What makes a model keep state between events: `[aggregate]` windows and
    `inter_arrival` derives (each names the time since the previous event)."""
    parts = []
    if spec.get("aggregate"):
        agg = spec["aggregate"]
        parts.append(f"[aggregate] per-key windows (group_by {agg.get('group_by')}, window {agg.get('window', 'all')!r})")
    for d in spec.get("derive") or []:
        if d.get("op") == "inter_arrival":
            parts.append(f"[[derive]] {d.get('name')!r} = inter_arrival (time since the previous event"
                         f"{' of the same ' + str(d.get('key')) if d.get('key') else ''})")
    return parts
