namespace Offload.Gateway.Service;

/// <summary>The last few values seen (a ring buffer) and their median; thread-safe.</summary>
internal sealed class RecentValues(int capacity)
{
    private readonly double[] _ring = new double[capacity];
    private readonly double[] _scratch = new double[capacity];
    private int _next;
    private int _count;

    /// <summary>Values held (at most the capacity).</summary>
    public int Count
    {
        get { lock (_ring) return _count; }
    }

    public void Add(double value)
    {
        lock (_ring)
        {
            _ring[_next] = value;
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
        }
    }

    /// <summary>The median of the values held (the mean of the middle two for an even count); NaN when none.</summary>
    public double Median()
    {
        lock (_ring)
        {
            if (_count == 0) return double.NaN;
            var held = _scratch.AsSpan(0, _count);
            _ring.AsSpan(0, _count).CopyTo(held);
            held.Sort();
            return _count % 2 == 1 ? held[_count / 2] : (held[_count / 2 - 1] + held[_count / 2]) / 2;
        }
    }
}
