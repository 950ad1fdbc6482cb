namespace Cartan.Formats.Onnx;

/// <summary>Where one TensorProto's data lives, as found by the header walk (no tensor bytes are read).</summary>
internal sealed class TensorRecord
{
    public string Name = "";
    public List<long> Dims = [];
    public int DataType;
    /// <summary>The TensorProto message itself, [Start, End) in the model file.</summary>
    public int MsgStart, MsgEnd;
    public bool HasRaw;
    public int RawStart, RawLength;
    public bool External;
    public List<KeyValuePair<string, string>> ExternalData = [];
    /// <summary>Element counts per typed repeated field number (4 float, 5 int32, 6 string, 7 int64, 10 double, 11 uint64).</summary>
    public readonly long[] TypedCounts = new long[12];
    /// <summary>Scope of the graph that holds the tensor ("" for the main graph).</summary>
    public string Scope = "";
    /// <summary>True when the tensor came from a Constant node's <c>value</c> attribute.</summary>
    public bool FromConstant;
}

/// <summary>A sparse initializer: reported as skipped.</summary>
internal sealed record SparseRecord(string Name, long[] Dims);

/// <summary>
/// Walks an ONNX ModelProto in a mapped file: graph, nodes, attributes and (recursively) subgraphs of If/Loop/Scan,
/// recording tensors' byte ranges and the op graph. Reads headers only; validates every length against its parent.
/// </summary>
internal sealed class OnnxModelParser
{
    public const int MaxDepth = 64;

    private readonly MappedFile _map;
    private readonly string _file;

    public OnnxModelParser(MappedFile map, string file)
    {
        _map = map;
        _file = file;
        if (map.Length > int.MaxValue)
            throw new CartanFormatException(file, $"ONNX protobuf of {map.Length} bytes exceeds the 2 GiB protobuf limit");
    }

    private ReadOnlySpan<byte> Data => _map.Span(0, _map.Length);

    public List<TensorRecord> Tensors { get; } = [];
    public List<SparseRecord> Sparse { get; } = [];
    public List<OpNode> Nodes { get; } = [];
    public List<string> GraphInputs { get; } = [];
    public List<string> GraphOutputs { get; } = [];

    public void Parse()
    {
        var r = new ProtoReader(Data, 0, (int)_map.Length, _file);
        bool sawGraph = false;
        int gStart = 0, gLen = 0;
        while (r.Next(out int f, out var w))
        {
            if (f == 7)
            {
                r.Expect(w, WireType.Len, "ModelProto.graph");
                (gStart, gLen) = r.ReadLen();
                sawGraph = true; // a repeated optional message: the last one wins, as protobuf merges (we take the last)
            }
            else r.Skip(w);
        }
        if (!sawGraph) throw new CartanFormatException(_file, "not an ONNX model: no graph field found");
        ParseGraph(gStart, gStart + gLen, "", 1, main: true);
    }

    private sealed class RawNode
    {
        public List<string> Inputs = [], Outputs = [];
        public string Name = "", OpType = "", Domain = "";
        public List<RawAttr> Attrs = [];
    }

    private sealed class RawAttr
    {
        public string Name = "";
        public int Type;
        public bool HasF, HasI, HasS, HasT, HasG;
        public double F;
        public long I;
        public string S = "";
        public int TStart, TEnd;
        public int GStart, GEnd;
        public List<double> Floats = [];
        public List<long> Ints = [];
        public List<string> Strings = [];
        public List<(int, int)> Graphs = [];
        public int TensorsCount;
    }

    private void CheckDepth(int depth, int at)
    {
        if (depth > MaxDepth) throw new CartanFormatException(_file, $"messages nested deeper than {MaxDepth} levels (byte {at})");
    }

    private void ParseGraph(int start, int end, string scope, int depth, bool main)
    {
        CheckDepth(depth, start);
        var nodes = new List<RawNode>();
        var inits = new List<TensorRecord>();
        var r = new ProtoReader(Data, start, end, _file);
        while (r.Next(out int f, out var w))
        {
            switch (f)
            {
                case 1:
                {
                    r.Expect(w, WireType.Len, "GraphProto.node");
                    var (s, l) = r.ReadLen();
                    nodes.Add(ParseNode(s, s + l, depth + 1));
                    break;
                }
                case 5:
                {
                    r.Expect(w, WireType.Len, "GraphProto.initializer");
                    var (s, l) = r.ReadLen();
                    var t = ParseTensor(s, s + l, depth + 1);
                    t.Scope = scope;
                    inits.Add(t);
                    break;
                }
                case 15:
                {
                    r.Expect(w, WireType.Len, "GraphProto.sparse_initializer");
                    var (s, l) = r.ReadLen();
                    Sparse.Add(ParseSparse(s, s + l, depth + 1));
                    break;
                }
                case 11 or 12 when main:
                {
                    r.Expect(w, WireType.Len, "GraphProto.input/output");
                    var (s, l) = r.ReadLen();
                    (f == 11 ? GraphInputs : GraphOutputs).Add(ParseValueInfoName(s, s + l));
                    break;
                }
                default:
                    r.Skip(w);
                    break;
            }
        }

        Tensors.AddRange(inits);
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            var attrs = new Dictionary<string, object>(StringComparer.Ordinal);
            foreach (var a in n.Attrs)
            {
                var v = AttributeValue(a);
                if (v is not null) attrs[a.Name] = v;
            }
            Nodes.Add(new OpNode(n.Name, n.OpType, n.Inputs, n.Outputs, attrs, scope));

            if (n.OpType == "Constant" && (n.Domain.Length == 0 || n.Domain == "ai.onnx"))
            {
                foreach (var a in n.Attrs)
                {
                    if (a.Name != "value" || !a.HasT) continue;
                    var t = ParseTensor(a.TStart, a.TEnd, depth + 3);
                    t.Name = n.Outputs.Count > 0 && n.Outputs[0].Length > 0 ? n.Outputs[0]
                        : n.Name.Length > 0 ? n.Name : $"Constant_{i}";
                    t.Scope = scope;
                    t.FromConstant = true;
                    Tensors.Add(t);
                }
            }

            string nodeLabel = n.Name.Length > 0 ? n.Name : $"{n.OpType}_{i}";
            foreach (var a in n.Attrs)
            {
                string sub = (scope.Length > 0 ? scope + "/" : "") + nodeLabel + "/" + a.Name;
                if (a.HasG) ParseGraph(a.GStart, a.GEnd, sub, depth + 3, main: false);
                for (int k = 0; k < a.Graphs.Count; k++)
                    ParseGraph(a.Graphs[k].Item1, a.Graphs[k].Item2, $"{sub}/{k}", depth + 3, main: false);
            }
        }
    }

    private static object? AttributeValue(RawAttr a)
    {
        int type = a.Type;
        if (type == 0)
        {
            // Pre-IR-3 files may omit the type: infer it from the one field present.
            if (a.HasF) type = 1;
            else if (a.HasI) type = 2;
            else if (a.HasS) type = 3;
            else if (a.Floats.Count > 0) type = 6;
            else if (a.Ints.Count > 0) type = 7;
            else if (a.Strings.Count > 0) type = 8;
        }
        return type switch
        {
            1 => a.F,
            2 => a.I,
            3 => a.S,
            6 => a.Floats.ToArray(),
            7 => a.Ints.ToArray(),
            8 => a.Strings.ToArray(),
            _ => null,
        };
    }

    private string ParseValueInfoName(int start, int end)
    {
        var r = new ProtoReader(Data, start, end, _file);
        string name = "";
        while (r.Next(out int f, out var w))
        {
            if (f == 1 && w == WireType.Len) name = r.ReadString();
            else r.Skip(w);
        }
        return name;
    }

    private RawNode ParseNode(int start, int end, int depth)
    {
        CheckDepth(depth, start);
        var n = new RawNode();
        var r = new ProtoReader(Data, start, end, _file);
        while (r.Next(out int f, out var w))
        {
            switch (f)
            {
                case 1: r.Expect(w, WireType.Len, "NodeProto.input"); n.Inputs.Add(r.ReadString()); break;
                case 2: r.Expect(w, WireType.Len, "NodeProto.output"); n.Outputs.Add(r.ReadString()); break;
                case 3: r.Expect(w, WireType.Len, "NodeProto.name"); n.Name = r.ReadString(); break;
                case 4: r.Expect(w, WireType.Len, "NodeProto.op_type"); n.OpType = r.ReadString(); break;
                case 7: r.Expect(w, WireType.Len, "NodeProto.domain"); n.Domain = r.ReadString(); break;
                case 5:
                {
                    r.Expect(w, WireType.Len, "NodeProto.attribute");
                    var (s, l) = r.ReadLen();
                    n.Attrs.Add(ParseAttribute(s, s + l, depth + 1));
                    break;
                }
                default: r.Skip(w); break;
            }
        }
        return n;
    }

    private RawAttr ParseAttribute(int start, int end, int depth)
    {
        CheckDepth(depth, start);
        var a = new RawAttr();
        var r = new ProtoReader(Data, start, end, _file);
        var data = Data;
        while (r.Next(out int f, out var w))
        {
            switch (f)
            {
                case 1: r.Expect(w, WireType.Len, "AttributeProto.name"); a.Name = r.ReadString(); break;
                case 20: r.Expect(w, WireType.Varint, "AttributeProto.type"); a.Type = r.ReadEnumOrInt32(); break;
                case 2:
                    r.Expect(w, WireType.Fixed32, "AttributeProto.f");
                    a.F = BitConverter.Int32BitsToSingle(unchecked((int)r.ReadFixed32())); a.HasF = true;
                    break;
                case 3: r.Expect(w, WireType.Varint, "AttributeProto.i"); a.I = unchecked((long)r.ReadVarint()); a.HasI = true; break;
                case 4: r.Expect(w, WireType.Len, "AttributeProto.s"); a.S = r.ReadString(); a.HasS = true; break;
                case 5:
                {
                    r.Expect(w, WireType.Len, "AttributeProto.t");
                    var (s, l) = r.ReadLen();
                    a.TStart = s; a.TEnd = s + l; a.HasT = true;
                    break;
                }
                case 6:
                {
                    r.Expect(w, WireType.Len, "AttributeProto.g");
                    var (s, l) = r.ReadLen();
                    a.GStart = s; a.GEnd = s + l; a.HasG = true;
                    break;
                }
                case 7:
                    if (w == WireType.Fixed32) a.Floats.Add(BitConverter.Int32BitsToSingle(unchecked((int)r.ReadFixed32())));
                    else
                    {
                        r.Expect(w, WireType.Len, "AttributeProto.floats");
                        var (s, l) = r.ReadLen();
                        if (l % 4 != 0) throw r.Fail(s, $"packed floats of attribute '{a.Name}' are {l} bytes, not a multiple of 4");
                        for (int k = 0; k < l; k += 4)
                            a.Floats.Add(BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(data.Slice(s + k, 4))));
                    }
                    break;
                case 8:
                    if (w == WireType.Varint) a.Ints.Add(unchecked((long)r.ReadVarint()));
                    else
                    {
                        r.Expect(w, WireType.Len, "AttributeProto.ints");
                        var (s, l) = r.ReadLen();
                        var inner = new ProtoReader(data, s, s + l, _file);
                        while (inner.Position < inner.End) a.Ints.Add(unchecked((long)inner.ReadVarint()));
                    }
                    break;
                case 9: r.Expect(w, WireType.Len, "AttributeProto.strings"); a.Strings.Add(r.ReadString()); break;
                case 10: r.Expect(w, WireType.Len, "AttributeProto.tensors"); r.ReadLen(); a.TensorsCount++; break;
                case 11:
                {
                    r.Expect(w, WireType.Len, "AttributeProto.graphs");
                    var (s, l) = r.ReadLen();
                    a.Graphs.Add((s, s + l));
                    break;
                }
                default: r.Skip(w); break;
            }
        }
        return a;
    }

    private SparseRecord ParseSparse(int start, int end, int depth)
    {
        CheckDepth(depth, start);
        var r = new ProtoReader(Data, start, end, _file);
        string name = "";
        var dims = new List<long>();
        while (r.Next(out int f, out var w))
        {
            if (f == 1 && w == WireType.Len)
            {
                var (s, l) = r.ReadLen();
                name = ParseTensor(s, s + l, depth + 1).Name;
            }
            else if (f == 3) ReadInt64s(ref r, w, dims, "SparseTensorProto.dims");
            else r.Skip(w);
        }
        return new SparseRecord(name, [.. dims]);
    }

    private void ReadInt64s(ref ProtoReader r, WireType w, List<long> into, string what)
    {
        if (w == WireType.Varint) { into.Add(unchecked((long)r.ReadVarint())); return; }
        r.Expect(w, WireType.Len, what);
        var (s, l) = r.ReadLen();
        var inner = new ProtoReader(Data, s, s + l, _file);
        while (inner.Position < inner.End) into.Add(unchecked((long)inner.ReadVarint()));
    }

    /// <summary>Walks one TensorProto: dims, type, name, where its data is, and how many typed values it holds.</summary>
    public TensorRecord ParseTensor(int start, int end, int depth)
    {
        CheckDepth(depth, start);
        var t = new TensorRecord { MsgStart = start, MsgEnd = end };
        var r = new ProtoReader(Data, start, end, _file);
        var data = Data;
        while (r.Next(out int f, out var w))
        {
            switch (f)
            {
                case 1: ReadInt64s(ref r, w, t.Dims, "TensorProto.dims"); break;
                case 2: r.Expect(w, WireType.Varint, "TensorProto.data_type"); t.DataType = r.ReadEnumOrInt32(); break;
                case 8: r.Expect(w, WireType.Len, "TensorProto.name"); t.Name = r.ReadString(); break;
                case 9:
                {
                    r.Expect(w, WireType.Len, "TensorProto.raw_data");
                    (t.RawStart, t.RawLength) = r.ReadLen();
                    t.HasRaw = true;
                    break;
                }
                case 13:
                {
                    r.Expect(w, WireType.Len, "TensorProto.external_data");
                    var (s, l) = r.ReadLen();
                    t.ExternalData.Add(ParseEntry(s, s + l));
                    break;
                }
                case 14: r.Expect(w, WireType.Varint, "TensorProto.data_location"); t.External = r.ReadVarint() == 1; break;
                case 4 or 10:
                {
                    // float_data (fixed32) / double_data (fixed64): packed or one field per value.
                    var fixedWire = f == 4 ? WireType.Fixed32 : WireType.Fixed64;
                    int size = f == 4 ? 4 : 8;
                    if (w == fixedWire) { r.Skip(w); t.TypedCounts[f]++; }
                    else
                    {
                        r.Expect(w, WireType.Len, f == 4 ? "TensorProto.float_data" : "TensorProto.double_data");
                        var (s, l) = r.ReadLen();
                        if (l % size != 0) throw r.Fail(s, $"packed {(f == 4 ? "float_data" : "double_data")} of {l} bytes is not a multiple of {size}");
                        t.TypedCounts[f] += l / size;
                    }
                    break;
                }
                case 5 or 7 or 11:
                {
                    if (w == WireType.Varint) { r.ReadVarint(); t.TypedCounts[f]++; }
                    else
                    {
                        r.Expect(w, WireType.Len, "TensorProto typed integer data");
                        var (s, l) = r.ReadLen();
                        t.TypedCounts[f] += ProtoReader.CountPackedVarints(data, s, l, _file);
                    }
                    break;
                }
                case 6: r.Expect(w, WireType.Len, "TensorProto.string_data"); r.ReadLen(); t.TypedCounts[6]++; break;
                default: r.Skip(w); break;
            }
        }
        return t;
    }

    private KeyValuePair<string, string> ParseEntry(int start, int end)
    {
        var r = new ProtoReader(Data, start, end, _file);
        string k = "", v = "";
        while (r.Next(out int f, out var w))
        {
            if (f == 1 && w == WireType.Len) k = r.ReadString();
            else if (f == 2 && w == WireType.Len) v = r.ReadString();
            else r.Skip(w);
        }
        return new(k, v);
    }
}
