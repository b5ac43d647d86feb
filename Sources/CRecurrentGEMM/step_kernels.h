// The fused time-loop steps' bodies, compiled twice by recurrent_cells.c: for AVX-512 (tiles of
// 8 rows × 32 units, two 16-wide panels of every gate) and for AVX2/FMA (6 rows × 16 units).
// RK(name) gives each build its names; RK_STEP_TARGET its target attribute; RK_STEP_ROWS and
// RK_STEP_PANELS its tile; RK_STEP_BLOCK(rows, k, a, lda, panel, next, out, ldo) its register
// block (next: the panel after `panel`, NULL for one panel); RK_STEP_GEMM its packed product.
// B = rows, H = hidden size, G = gates, K = width of h_{t-1}.
// Deliberately no include guard: included once per build.

/// Floats of one gate's tile in the scratch block, and of one of its rows.
#define RK_STEP_TILE_ROW (RK_STEP_PANELS * RK_PANEL)
#define RK_STEP_TILE (RK_STEP_ROWS * RK_STEP_TILE_ROW)
/// Row tiles whose products are made gate by gate before their cell steps run.
#define RK_STEP_CHUNK 4
/// Bytes of the gate gradients that a backward chunk of rows writes before its dG W_hh product
/// reads them back (from L2): the chunk is as many row tiles as fit, so that W_hh, which the
/// product streams whole, is read once per chunk rather than once per tile. (T100 B64 I512 H512
/// on one core, W_hh 4 MB: 82 → 121 GFLOP/s for the backward loop; at H = 128 and 256 no change.)
#define RK_STEP_BACKWARD_BYTES (512 * 1024)

static RK_STEP_TARGET void RK(rk_forward_step)(int cell, const rk_cell_forward *step, const float *previous_hidden, int k,
                                               const float *packed_hh, const float *input, int input_k,
                                               const float *packed_ih, const float *mask, float *masked,
                                               int first_unit, int end_unit) {
    int h = step->hidden, gates = step->gate_row / h, per_gate = rk_panels(end_unit);
    if (previous_hidden && mask) {
        // Recurrent dropout: the products read h_{t-1} ⊙ mask (B, K); the cell keeps h_{t-1} itself.
        size_t count = (size_t)step->rows * k;
        for (size_t i = 0; i < count; i++) masked[i] = previous_hidden[i] * mask[i];
        previous_hidden = masked;
    }
    size_t gate_panels = rk_packed_size(k, h), input_panels = packed_ih ? rk_packed_size(input_k, h) : 0;
    float edge[RK_STEP_TILE];
    // scratch[g][tile][row][units]: the tiles of h_{t-1} W_hhᵀ for gate g over a chunk of
    // RK_STEP_CHUNK tiles of rows. Each gate's panel is multiplied by every tile of the chunk in
    // turn, so that it is read from L1 for all but the first.
    float scratch[4 * RK_STEP_CHUNK * RK_STEP_TILE];
    int chunk_rows = RK_STEP_CHUNK * RK_STEP_ROWS;
    for (int c = first_unit / RK_PANEL; c < per_gate; c += RK_STEP_PANELS) {
        int pair = RK_STEP_PANELS > 1 && c + 1 < per_gate;
        int col = c * RK_PANEL, span = (pair ? 2 : 1) * RK_PANEL, width = h - col < span ? h - col : span;
        for (int r0 = 0; r0 < step->rows; r0 += chunk_rows) {
            int end = step->rows - r0 < chunk_rows ? step->rows : r0 + chunk_rows;
            if (packed_ih) {
                // x_t W_ihᵀ for this chunk's tiles, straight into the gates rows (the cell reads them next, from L1).
                for (int g = 0; g < gates; g++) {
                    const float *panel = packed_ih + g * input_panels + (size_t)c * input_k * RK_PANEL;
                    for (int r = r0; r < end; r += RK_STEP_ROWS) {
                        int rows = end - r < RK_STEP_ROWS ? end - r : RK_STEP_ROWS;
                        float *out = step->gates + (size_t)r * step->gate_row + (size_t)g * h + col;
                        const float *next = pair ? panel + (size_t)input_k * RK_PANEL : NULL;
                        if (width == span) {
                            RK_STEP_BLOCK(rows, input_k, input + (size_t)r * input_k, input_k, panel, next, out, step->gate_row);
                        } else {
                            // A partial last panel: the whole tile into `edge`, then its valid columns.
                            RK_STEP_BLOCK(rows, input_k, input + (size_t)r * input_k, input_k, panel, next, edge, RK_STEP_TILE_ROW);
                            for (int i = 0; i < rows; i++) memcpy(out + (size_t)i * step->gate_row, edge + i * RK_STEP_TILE_ROW, width * sizeof(float));
                        }
                    }
                }
            }
            if (previous_hidden) {
                for (int g = 0; g < gates; g++) {
                    const float *panel = packed_hh + g * gate_panels + (size_t)c * k * RK_PANEL;
                    for (int r = r0; r < end; r += RK_STEP_ROWS) {
                        int rows = end - r < RK_STEP_ROWS ? end - r : RK_STEP_ROWS;
                        RK_STEP_BLOCK(rows, k, previous_hidden + (size_t)r * k, k, panel, pair ? panel + (size_t)k * RK_PANEL : NULL,
                                      scratch + (g * RK_STEP_CHUNK + (r - r0) / RK_STEP_ROWS) * RK_STEP_TILE, RK_STEP_TILE_ROW);
                    }
                }
            }
            for (int r = r0; r < end; r += RK_STEP_ROWS) {
                int rows = end - r < RK_STEP_ROWS ? end - r : RK_STEP_ROWS;
                size_t state = (size_t)r * step->state_row + col;
                rk_cell_forward tile = *step;
                tile.rows = rows;
                tile.columns = width;
                tile.gates = step->gates + (size_t)r * step->gate_row + col;
                tile.product = previous_hidden ? scratch + ((r - r0) / RK_STEP_ROWS) * RK_STEP_TILE : NULL;
                tile.product_gate = RK_STEP_CHUNK * RK_STEP_TILE;
                tile.product_row = RK_STEP_TILE_ROW;
                tile.bias_ih = step->bias_ih + col;
                tile.bias_hh = step->bias_hh + col;
                tile.previous = step->previous ? step->previous + state : NULL;
                tile.state = step->state ? step->state + state : NULL;
                tile.hidden_out = step->hidden_out + state;
                switch (cell) {
                case RK_CELL_LSTM: RK(rk_lstm_forward)(&tile); break;
                case RK_CELL_GRU: RK(rk_gru_forward)(&tile); break;
                default: RK(rk_rnn_forward)(&tile); break;
                }
            }
        }
    }
}

static RK_STEP_TARGET void RK(rk_backward_step)(int cell, const rk_cell_backward *step, const float *packed_hh, int k,
                                                float *grad_previous, const float *mask, float *masked_product) {
    int gh = step->gate_row;
    int chunk = RK_STEP_BACKWARD_BYTES / ((int)sizeof(float) * gh) / RK_STEP_ROWS * RK_STEP_ROWS;
    if (chunk < RK_STEP_ROWS) chunk = RK_STEP_ROWS;
    for (int r0 = 0; r0 < step->rows; r0 += chunk) {
        int end = step->rows - r0 < chunk ? step->rows : r0 + chunk;
        // The chunk's cell steps, tile by tile; each row reads its own dh_t and dc_t before the
        // product below overwrites (adds to, for GRU) that row's dh.
        for (int r = r0; r < end; r += RK_STEP_ROWS) {
            int rows = end - r < RK_STEP_ROWS ? end - r : RK_STEP_ROWS;
            size_t state = (size_t)r * step->state_row;
            rk_cell_backward tile = *step;
            tile.rows = rows;
            tile.gates = step->gates + (size_t)r * gh;
            tile.state = step->state ? step->state + state : NULL;
            tile.previous = step->previous ? step->previous + state : NULL;
            tile.grad_output = step->grad_output ? step->grad_output + state : NULL;
            tile.grad_hidden = step->grad_hidden + state;
            tile.grad_cell = step->grad_cell ? step->grad_cell + state : NULL;
            tile.grad_gates = step->grad_gates + (size_t)r * gh;
            tile.grad_gates_hidden = step->grad_gates_hidden ? step->grad_gates_hidden + (size_t)r * gh : NULL;
            switch (cell) {
            case RK_CELL_LSTM: RK(rk_lstm_backward)(&tile); break;
            case RK_CELL_GRU: RK(rk_gru_backward)(&tile); break;
            default: RK(rk_rnn_backward)(&tile); break;
            }
        }
        if (packed_hh) {
            // dh_{t-1} (rows, K) (+)= dG (rows, G·H) · W_hh (G·H, K), dG still in L1 or L2.
            int rows = end - r0;
            const float *dg = (cell == RK_CELL_GRU ? step->grad_gates_hidden : step->grad_gates) + (size_t)r0 * gh;
            float *out = grad_previous + (size_t)r0 * k;
            if (!mask) {
                RK_STEP_GEMM(rows, k, gh, dg, gh, packed_hh, out, k, cell == RK_CELL_GRU);
            } else {
                // Recurrent dropout: the product's part meets the mask, GRU's direct z ⊙ dh does not.
                float *product = masked_product + (size_t)r0 * k;
                const float *m = mask + (size_t)r0 * k;
                size_t count = (size_t)rows * k;
                RK_STEP_GEMM(rows, k, gh, dg, gh, packed_hh, product, k, 0);
                if (cell == RK_CELL_GRU) for (size_t i = 0; i < count; i++) out[i] += product[i] * m[i];
                else for (size_t i = 0; i < count; i++) out[i] = product[i] * m[i];
            }
        }
    }
}

#undef RK_STEP_TILE_ROW
#undef RK_STEP_TILE
#undef RK_STEP_CHUNK
#undef RK_STEP_BACKWARD_BYTES
