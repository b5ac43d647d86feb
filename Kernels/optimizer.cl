// Optimizer updates in place, PyTorch's order of operations (CPUBackend/Optimizer.swift). N = elements.

kernel ONE_DIMENSIONAL void sgd_update(global float* param, ulong param_offset, global const float* gradient, ulong gradient_offset,
                                       global float* momentum_buffer, ulong momentum_offset, int has_momentum_buffer, ulong n,
                                       float learning_rate, float momentum, float dampening, float weight_decay,
                                       int nesterov, int first_step) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float p = param[param_offset + e];
    float d = gradient[gradient_offset + e];
    if (weight_decay != 0.0f) d += weight_decay * p;
    if (momentum != 0.0f && has_momentum_buffer) {
        float buf = first_step ? d : momentum * momentum_buffer[momentum_offset + e] + (1.0f - dampening) * d;
        momentum_buffer[momentum_offset + e] = buf;
        d = nesterov ? d + momentum * buf : buf;
    }
    param[param_offset + e] = p - learning_rate * d;
}

// Adam (decoupled = 0) and AdamW (decoupled = 1); step_size = lr / (1 − β1^t) and
// decay = 1 − lr·wd come from the host, computed as the CPU backend computes them.
kernel ONE_DIMENSIONAL void adam_update(global float* param, ulong param_offset, global const float* gradient, ulong gradient_offset,
                                        global float* m, ulong m_offset, global float* v, ulong v_offset, ulong n,
                                        float step_size, float decay, float beta1, float beta2, float epsilon,
                                        float weight_decay, int decoupled, float bias_correction2_sqrt) {
    ulong e = get_global_id(0);
    if (e >= n) return;
    float p = param[param_offset + e];
    float g = gradient[gradient_offset + e];
    if (decoupled) p *= decay; else if (weight_decay != 0.0f) g += weight_decay * p;
    float mm = m[m_offset + e], vv = v[v_offset + e];
    mm += (g - mm) * (1.0f - beta1);
    vv = vv * beta2 + (1.0f - beta2) * g * g;
    float denom = sqrt(vv) / bias_correction2_sqrt + epsilon;
    m[m_offset + e] = mm;
    v[v_offset + e] = vv;
    param[param_offset + e] = p - step_size * (mm / denom);
}
