using System.Buffers.Binary;
using System.Text;
using Cartan.Tensors;

namespace Cartan.Formats.Pytorch;

/// <summary>A pickled <c>torch.*Storage</c> persistent id: the archive entry <c>data/{Key}</c> holding <see cref="Numel"/> elements.</summary>
public sealed record PickleStorage(string Key, DType DType, string TypeName, long Numel);

/// <summary>A tensor rebuilt by <c>torch._utils._rebuild_tensor_v2</c>: a strided view of a storage (offset and strides in elements).</summary>
public sealed record PickleTensor(PickleStorage Storage, long Offset, long[] Shape, long[] Stride);

/// <summary>A Python dict (or OrderedDict) in insertion order; keys are strings, integers, bools, floats or None.</summary>
public sealed class PickleDict
{
    private readonly Dictionary<object, int> _index = new();
    public List<KeyValuePair<object?, object?>> Items { get; } = [];

    public void Set(object? key, object? value)
    {
        if (key is string or long or bool or double && _index.TryGetValue(key, out int at))
        {
            Items[at] = new(key, value);
            return;
        }
        if (key is string or long or bool or double) _index[key] = Items.Count;
        Items.Add(new(key, value));
    }
}

/// <summary>A global the allowlist admits (module, name); only a few are callable.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>
/// A safe reader for the pickle subset that <c>torch.save</c> writes for state dicts (protocols 2 to 5).
/// It interprets opcodes into plain data; nothing is imported or executed. GLOBAL / STACK_GLOBAL are accepted only
/// for an allowlist (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, the typed
/// torch storages); anything else is refused with "refusing to load a pickle that calls module.name".
/// </summary>
public sealed class SafePickle
{
    private static readonly Dictionary<string, DType> Storages = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = DType.F32, ["HalfStorage"] = DType.F16, ["BFloat16Storage"] = DType.BF16,
        ["DoubleStorage"] = DType.F64, ["ByteStorage"] = DType.U8, ["CharStorage"] = DType.I8,
        ["ShortStorage"] = DType.I16, ["IntStorage"] = DType.I32, ["LongStorage"] = DType.I64, ["BoolStorage"] = DType.Bool,
    };

    private static readonly HashSet<string> Callables = new(StringComparer.Ordinal)
    {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    };

    private const int MaxStack = 1 << 22;

    private sealed class MarkObj { public static readonly MarkObj I = new(); }
    private sealed class PySet { public List<object?> Items { get; } = []; }

    private readonly string _file;
    private readonly byte[] _p;
    private int _pos;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();
    private readonly Dictionary<string, PickleStorage> _storages = new(StringComparer.Ordinal);

    private SafePickle(string file, byte[] pickle) { _file = file; _p = pickle; }

    /// <summary>Interprets <paramref name="pickle"/> and returns the top-level object. Throws only <see cref="CartanFormatException"/>.</summary>
    public static object? Load(string file, byte[] pickle) => new SafePickle(file, pickle).Run();

    private CartanFormatException Fail(string problem) => new(_file, problem);

    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > _p.Length - _pos) throw Fail($"pickle truncated at byte {_pos}");
        var s = _p.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private void Push(object? o)
    {
        if (_stack.Count >= MaxStack) throw Fail("pickle stack grows beyond its limit");
        _stack.Add(o);
    }

    private object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Fail($"pickle stack underflow at byte {_pos - 1}");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object? Top()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Fail($"pickle stack underflow at byte {_pos - 1}");
        return _stack[^1];
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Fail($"pickle has no MARK for the opcode at byte {_pos - 1}");
        int m = _marks.Pop();
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private string Utf8(ReadOnlySpan<byte> b)
    {
        try { return new UTF8Encoding(false, true).GetString(b); }
        catch (ArgumentException) { throw Fail($"pickle string at byte {_pos} is not valid UTF-8"); }
    }

    private string Line()
    {
        int start = _pos;
        int nl = Array.IndexOf(_p, (byte)'\n', _pos, Math.Min(256, _p.Length - _pos));
        if (nl < 0) throw Fail($"pickle GLOBAL at byte {start} has no line end");
        _pos = nl + 1;
        return Encoding.ASCII.GetString(_p, start, nl - start);
    }

    private object Global(string module, string name)
    {
        string full = $"{module}.{name}";
        if (Callables.Contains(full) || (module == "torch" && Storages.ContainsKey(name)))
            return new PickleGlobal(module, name);
        throw Fail($"refusing to load a pickle that calls {full}");
    }

    private void Memoize(long key, object? value)
    {
        if (key < 0) throw Fail("negative pickle memo key");
        _memo[key] = value;
    }

    private object? MemoGet(long key) =>
        _memo.TryGetValue(key, out var v) ? v : throw Fail($"pickle refers to memo slot {key} that was never stored");

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _p.Length) throw Fail("pickle ends without STOP");
            int at = _pos;
            byte op = _p[_pos++];
            switch (op)
            {
                case 0x80: Take(1); break;                                  // PROTO
                case 0x95: Take(8); break;                                  // FRAME (framing is advisory)
                case (byte)'.': return _stack.Count == 1 && _marks.Count == 0 ? _stack[0] : throw Fail("pickle stack is not a single object at STOP");
                case (byte)'(': _marks.Push(_stack.Count); break;           // MARK
                case (byte)'}': Push(new PickleDict()); break;              // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;           // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break;        // EMPTY_TUPLE
                case (byte)'t': Push(PopMark().ToArray()); break;           // TUPLE
                case 0x85: Push(new[] { Pop() }); break;                    // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'X': Push(Utf8(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))); break;
                case 0x8c: Push(Utf8(Take(Take(1)[0]))); break;            // SHORT_BINUNICODE
                case 0x8d:                                                  // BINUNICODE8
                {
                    ulong n = BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
                    if (n > (ulong)(_p.Length - _pos)) throw Fail($"pickle string at byte {at} runs past the end");
                    Push(Utf8(Take((long)n)));
                    break;
                }
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break;
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(Take(1)[0]))); break;
                case (byte)'B': Push(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))).ToArray()); break;
                case (byte)'C': Push(Take(Take(1)[0]).ToArray()); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case (byte)'K': Push((long)Take(1)[0]); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case 0x8a: Push(Long(Take(Take(1)[0]))); break;             // LONG1
                case 0x8b: Push(Long(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;   // BINFLOAT is big-endian
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'N': Push(null); break;
                case (byte)'s':
                {
                    var v = Pop(); var k = Pop();
                    if (Top() is not PickleDict d) throw Fail($"pickle SETITEM at byte {at} targets a non-dict");
                    d.Set(k, v);
                    break;
                }
                case (byte)'u':
                {
                    var items = PopMark();
                    if (Top() is not PickleDict d) throw Fail($"pickle SETITEMS at byte {at} targets a non-dict");
                    if (items.Count % 2 != 0) throw Fail($"pickle SETITEMS at byte {at} has an odd item count");
                    for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1]);
                    break;
                }
                case (byte)'a':
                {
                    var v = Pop();
                    if (Top() is not List<object?> l) throw Fail($"pickle APPEND at byte {at} targets a non-list");
                    l.Add(v);
                    break;
                }
                case (byte)'e':
                {
                    var items = PopMark();
                    if (Top() is not List<object?> l) throw Fail($"pickle APPENDS at byte {at} targets a non-list");
                    l.AddRange(items);
                    break;
                }
                case 0x8f: Push(new PySet()); break;                        // EMPTY_SET
                case 0x90:                                                  // ADDITEMS
                {
                    var items = PopMark();
                    if (Top() is not PySet s) throw Fail($"pickle ADDITEMS at byte {at} targets a non-set");
                    s.Items.AddRange(items);
                    break;
                }
                case 0x91: Push(PopMark().ToArray()); break;                // FROZENSET (kept as a tuple)
                case (byte)'q': Memoize(Take(1)[0], Top()); break;          // BINPUT
                case (byte)'r': Memoize(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), Top()); break;
                case 0x94: Memoize(_memo.Count, Top()); break;              // MEMOIZE
                case (byte)'h': Push(MemoGet(Take(1)[0])); break;           // BINGET
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'0': Pop(); break;                               // POP
                case (byte)'1': PopMark(); break;                           // POP_MARK
                case (byte)'2': Push(Top()); break;                         // DUP
                case (byte)'c':                                             // GLOBAL
                {
                    string module = Line(), name = Line();
                    Push(Global(module, name));
                    break;
                }
                case 0x93:                                                  // STACK_GLOBAL
                {
                    var name = Pop(); var module = Pop();
                    if (module is not string m || name is not string n) throw Fail($"pickle STACK_GLOBAL at byte {at} lacks string operands");
                    Push(Global(m, n));
                    break;
                }
                case (byte)'R':                                             // REDUCE
                {
                    var args = Pop(); var fn = Pop();
                    Push(Call(fn, args, at));
                    break;
                }
                case 0x81:                                                  // NEWOBJ: cls.__new__(cls, *args)
                {
                    var args = Pop(); var cls = Pop();
                    if (cls is PickleGlobal { Module: "collections", Name: "OrderedDict" }) { Push(new PickleDict()); break; }
                    throw Fail($"refusing to load a pickle that instantiates {cls}");
                }
                case (byte)'b':                                             // BUILD: attribute state (e.g. OrderedDict._metadata) is ignored
                    Pop();
                    Top();
                    break;
                case (byte)'Q':                                             // BINPERSID
                    Push(PersistentLoad(Pop(), at));
                    break;
                default:
                    throw Fail($"unsupported pickle opcode 0x{op:x2} at byte {at}");
            }
        }
    }

    private object Long(ReadOnlySpan<byte> b)
    {
        if (b.Length > 8) throw Fail($"pickle integer of {b.Length} bytes is too large");
        if (b.Length == 0) return 0L;
        long v = 0;
        for (int i = b.Length - 1; i >= 0; i--) v = (v << 8) | b[i];
        int shift = 64 - 8 * b.Length;
        return shift == 0 ? v : (v << shift) >> shift;   // sign-extend
    }

    private object? Call(object? fn, object? args, int at)
    {
        if (fn is not PickleGlobal g) throw Fail($"pickle REDUCE at byte {at} calls something that is not a global");
        if (args is not object[] a) throw Fail($"pickle REDUCE at byte {at} has arguments that are not a tuple");
        switch (g.ToString())
        {
            case "collections.OrderedDict":
                if (a.Length != 0) throw Fail("OrderedDict(...) with arguments is not supported");
                return new PickleDict();
            case "torch._utils._rebuild_tensor_v2":
            case "torch._utils._rebuild_tensor":
            {
                if (a.Length < 4) throw Fail($"{g} at byte {at} has {a.Length} arguments");
                if (a[0] is not PickleStorage st) throw Fail($"{g} at byte {at} has no storage");
                long offset = a[1] is long o && o >= 0 ? o : throw Fail($"{g} at byte {at} has a bad storage offset");
                long[] shape = Ints(a[2], g, at), stride = Ints(a[3], g, at);
                if (shape.Length != stride.Length) throw Fail($"{g} at byte {at} has {shape.Length} sizes but {stride.Length} strides");
                return new PickleTensor(st, offset, shape, stride);
            }
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                if (a.Length < 1 || a[0] is not PickleTensor t) throw Fail($"{g} at byte {at} wraps no tensor");
                return t;
            default:
                throw Fail($"refusing to load a pickle that calls {g}");
        }
    }

    private long[] Ints(object? o, PickleGlobal g, int at)
    {
        if (o is not object[] a || a.Length > 16) throw Fail($"{g} at byte {at} has a bad size or stride tuple");
        var r = new long[a.Length];
        for (int i = 0; i < a.Length; i++)
            r[i] = a[i] is long v && v >= 0 ? v : throw Fail($"{g} at byte {at} has a negative or non-integer size or stride");
        return r;
    }

    private PickleStorage PersistentLoad(object? pid, int at)
    {
        if (pid is not object[] t || t.Length < 5 || t[0] is not "storage")
            throw Fail($"pickle persistent id at byte {at} is not a ('storage', type, key, location, numel) tuple");
        if (t[1] is not PickleGlobal { Module: "torch" } g || !Storages.TryGetValue(g.Name, out var dtype))
            throw Fail($"pickle persistent id at byte {at} names an unknown storage type");
        if (t[2] is not string key) throw Fail($"pickle persistent id at byte {at} has a non-string key");
        if (t[4] is not long numel || numel < 0) throw Fail($"pickle persistent id at byte {at} has a bad element count");
        if (_storages.TryGetValue(key, out var existing))
        {
            if (existing.DType != dtype || existing.Numel != numel) throw Fail($"storage '{key}' is declared twice with different types or sizes");
            return existing;
        }
        var s = new PickleStorage(key, dtype, g.Name, numel);
        _storages[key] = s;
        return s;
    }
}
