using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

// usage: ExtractResource ASSEMBLY RESOURCE_NAME OUTPUT
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: ExtractResource ASSEMBLY RESOURCE_NAME OUTPUT");
    return 2;
}
var (assemblyPath, resourceName, outputPath) = (args[0], args[1], args[2]);
using var fs = File.OpenRead(assemblyPath);
using var pe = new PEReader(fs);
var md = pe.GetMetadataReader();
foreach (var h in md.ManifestResources)
{
    var r = md.GetManifestResource(h);
    if (md.GetString(r.Name) != resourceName) continue;
    if (!r.Implementation.IsNil)
    {
        Console.Error.WriteLine($"{assemblyPath}: resource {resourceName} is not embedded");
        return 1;
    }
    int rva = pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress + (int)r.Offset;
    var reader = pe.GetSectionData(rva).GetReader();
    int length = reader.ReadInt32();
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
    var tmp = outputPath + ".tmp";
    using (var outFs = File.Create(tmp))
    {
        var buffer = new byte[1 << 20];
        for (int left = length; left > 0;)
        {
            int n = Math.Min(left, buffer.Length);
            reader.ReadBytes(n, buffer, 0);
            outFs.Write(buffer, 0, n);
            left -= n;
        }
    }
    File.Move(tmp, outputPath, true);
    Console.WriteLine($"extracted {resourceName} ({length} bytes) to {outputPath}");
    return 0;
}
Console.Error.WriteLine($"{assemblyPath}: resource {resourceName} not found");
return 1;
