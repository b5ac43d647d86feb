// Shared definitions of every RecurrentKit kernel. The host concatenates common.cl, philox.cl
// and the op files into one program and builds it once per process and device.
//
// Tuning values come from the host as -D defines (OpenCLTuning.swift):
//   WORK_GROUP_SIZE  work-items per group of the one-dimensional kernels.
// Conventions: every tensor argument is a buffer plus an element offset (`ulong`), outputs
// first, then inputs, then sizes (as the Swift backends). An optional tensor comes with a
// `has_...` flag; when the flag is 0 the buffer is a placeholder that is never read.
// T = time steps, B = batch, H = hidden size, G = gates, N = elements.

#ifndef WORK_GROUP_SIZE
#error "WORK_GROUP_SIZE must be defined by the host (-D WORK_GROUP_SIZE=n)"
#endif

// fp32 with no contraction of a*b+c into fma, as the CPU backend computes: the same
// operations in the same order give the same bits where the device rounds correctly.
#pragma OPENCL FP_CONTRACT OFF

// The group size is fixed at build time so the compiler can plan for it.
#define ONE_DIMENSIONAL __attribute__((reqd_work_group_size(WORK_GROUP_SIZE, 1, 1)))

// Blocks of the fixed summation order shared with the CPU backend (Reduction.swift).
#define REDUCTION_BLOCK 1024

// Activation codes, as OpenCLBackend passes them (Activation in Kinds.swift).
#define ACTIVATION_IDENTITY 0
#define ACTIVATION_TANH 1
#define ACTIVATION_RELU 2
#define ACTIVATION_SIGMOID 3

// Swift's max(x, y) and min(x, y): the same answers for NaN operands as the CPU backend.
inline float swift_max(float x, float y) { return y >= x ? y : x; }
inline float swift_min(float x, float y) { return y < x ? y : x; }

inline float sigmoid_f(float x) { return 1.0f / (1.0f + exp(-x)); }

inline float activate(float x, int kind) {
    switch (kind) {
    case ACTIVATION_TANH: return tanh(x);
    case ACTIVATION_RELU: return x < 0.0f ? 0.0f : x;
    case ACTIVATION_SIGMOID: return sigmoid_f(x);
    default: return x;
    }
}

// f'(x) written through the output y = f(x).
inline float activation_derivative(float y, int kind) {
    switch (kind) {
    case ACTIVATION_TANH: return 1.0f - y * y;
    case ACTIVATION_RELU: return y <= 0.0f ? 0.0f : 1.0f;
    case ACTIVATION_SIGMOID: return y * (1.0f - y);
    default: return 1.0f;
    }
}

// Whether a float holds an integer index in 0..<count (class targets, token indices).
inline bool is_index(float value, uint count) {
    return value >= 0.0f && value < (float)count && value == trunc(value);
}
