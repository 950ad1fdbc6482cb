using Cartan.Noise;
using Cartan.Torch.Noise;
using TorchSharp;
using static TorchSharp.torch;

namespace Cartan.Experiments;

/// <summary>Where a noise layer sits: after the ReLU of conv1 (28×28), conv2 (14×14) or conv3 (7×7).</summary>
public enum Stage { Early, Middle, Late }

/// <summary>One training configuration.</summary>
public sealed record Config(string Name, string Kind, Stage Stage, double Strength)
{
    public override string ToString() => Name;
}

/// <summary>
/// The small CNN (each conv followed by BatchNorm): conv(1→16)·BN·ReLU·[early]·pool → conv(16→32)·BN·ReLU·[middle]·pool → conv(32→64)·BN·ReLU·[late] →
/// global average pool (the 64-d penultimate features) → linear(64→10). 3×3 convolutions with padding 1.
/// </summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv1, conv2, conv3, bn1, bn2, bn3, early, middle, late;
    private readonly nn.Module<Tensor, Tensor> pool;
    public readonly TorchSharp.Modules.Linear fc;

    public SmallCnn(Config cfg, double matchedDrop, ulong seed) : base("smallcnn")
    {
        conv1 = nn.Conv2d(1, 16, 3, padding: 1);
        conv2 = nn.Conv2d(16, 32, 3, padding: 1);
        conv3 = nn.Conv2d(32, 64, 3, padding: 1);
        bn1 = nn.BatchNorm2d(16);
        bn2 = nn.BatchNorm2d(32);
        bn3 = nn.BatchNorm2d(64);
        pool = nn.MaxPool2d(2);
        fc = nn.Linear(64, 10);
        nn.Module<Tensor, Tensor> Id() => nn.Identity();
        nn.Module<Tensor, Tensor> layer = cfg.Kind switch
        {
            "none" => Id(),
            "gch" => new GChModule(new GChOptions { Strength = cfg.Strength }, seed),
            "additive" => new CorrelatedNoiseModule(new GChOptions { Strength = cfg.Strength }, seed),
            "dropout" => nn.Dropout(matchedDrop),
            "dropblock" => new DropBlockModule(3, 1 - matchedDrop, seed),
            _ => throw new ArgumentException(cfg.Kind),
        };
        early = cfg.Stage == Stage.Early ? layer : Id();
        middle = cfg.Stage == Stage.Middle ? layer : Id();
        late = cfg.Stage == Stage.Late ? layer : Id();
        RegisterComponents();
    }

    /// <summary>The penultimate features [B, 64].</summary>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = pool.forward(early.forward(nn.functional.relu(bn1.forward(conv1.forward(x)))));
        h = pool.forward(middle.forward(nn.functional.relu(bn2.forward(conv2.forward(h)))));
        h = late.forward(nn.functional.relu(bn3.forward(conv3.forward(h))));
        return h.mean([2, 3]).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x)
    {
        using var f = Features(x);
        return fc.forward(f);
    }
}

public static class Train
{
    /// <summary>Shuffled minibatch SGD/Adam epochs over (images, labels); returns the mean loss of the last epoch.</summary>
    public static double Epoch(SmallCnn net, optim.Optimizer opt, float[] images, int[] labels, int count, int batch, Random rng)
    {
        net.train();
        var order = Enumerable.Range(0, count).ToArray();
        rng.Shuffle(order);
        double total = 0;
        var xb = new float[batch * 784];
        var yb = new long[batch];
        for (int s = 0; s + batch <= count; s += batch)
        {
            for (int i = 0; i < batch; i++)
            {
                images.AsSpan(order[s + i] * 784, 784).CopyTo(xb.AsSpan(i * 784));
                yb[i] = labels[order[s + i]];
            }
            using var scope = NewDisposeScope();
            var x = tensor(xb, [batch, 1, 28, 28]);
            var y = tensor(yb);
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(net.forward(x), y);
            loss.backward();
            opt.step();
            total += loss.item<float>();
        }
        return total / (count / batch);
    }

    /// <summary>Eval-mode logits [N, 10] (row-major floats).</summary>
    public static float[] Logits(SmallCnn net, ReadOnlySpan<float> images, int count)
    {
        net.eval();
        var outp = new float[count * 10];
        const int B = 500;
        using var _ = no_grad();
        for (int s = 0; s < count; s += B)
        {
            int b = Math.Min(B, count - s);
            using var scope = NewDisposeScope();
            var x = tensor(images.Slice(s * 784, b * 784).ToArray(), [b, 1, 28, 28]);
            net.forward(x).data<float>().CopyTo(outp.AsSpan(s * 10, b * 10));
        }
        return outp;
    }

    /// <summary>Eval-mode penultimate features [N, 64].</summary>
    public static float[] Features(SmallCnn net, ReadOnlySpan<float> images, int count)
    {
        net.eval();
        var outp = new float[count * 64];
        const int B = 500;
        using var _ = no_grad();
        for (int s = 0; s < count; s += B)
        {
            int b = Math.Min(B, count - s);
            using var scope = NewDisposeScope();
            var x = tensor(images.Slice(s * 784, b * 784).ToArray(), [b, 1, 28, 28]);
            net.Features(x).data<float>().CopyTo(outp.AsSpan(s * 64, b * 64));
        }
        return outp;
    }
}
