// The fixed summation order shared by the CPU reductions.

/// Σ over `count` values of `term(i)` in fixed blocks of 1024, then the block sums: the order every
/// backend uses so that reductions agree to the last bit wherever the arithmetic does.
@inline(__always) func blockedSum(count: Int, _ term: (Int) -> Float) -> Float {
    let block = 1024
    var total: Float = 0
    var start = 0
    while start < count {
        var partial: Float = 0
        for i in start..<min(start + block, count) { partial += term(i) }
        total += partial
        start += block
    }
    return total
}
