// Forward-only streaming steps (recurrent_stream.h): per 16-unit panel, x_t W_ihᵀ and h_{t-1} W_hhᵀ
// for every gate from one contiguous block of packed weights, then the cell step on that panel
// while its products are in L1, in an AVX-512 and an AVX2/FMA build of one body; and the team of
// spinning threads that runs a step's parts on both cores.
// B = rows, I = input size, K = width of h_{t-1}, H = hidden size, G = gates, P = panels of 16 units.
#include "recurrent_stream.h"
#include "recurrent_gemm.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t rk_stream_packed_size(int input_k, int k, int gates, int hidden) {
    return (size_t)((hidden + RK_PANEL - 1) / RK_PANEL) * (size_t)(input_k + k) * (size_t)gates * RK_PANEL;
}

void rk_stream_pack(float *packed, const float *weight_ih, const float *weight_hh, int input_k, int k, int gates,
                    int hidden) {
    int panels = (hidden + RK_PANEL - 1) / RK_PANEL, width = input_k + k;
    for (int p = 0; p < panels; p++) {
        for (int kk = 0; kk < width; kk++) {
            for (int g = 0; g < gates; g++) {
                float *dst = packed + (((size_t)p * width + kk) * gates + g) * RK_PANEL;
                for (int j = 0; j < RK_PANEL; j++) {
                    int unit = p * RK_PANEL + j;
                    size_t row = (size_t)g * hidden + unit;
                    dst[j] = unit >= hidden ? 0.0f
                             : kk < input_k ? weight_ih[row * input_k + kk] : weight_hh[row * k + (kk - input_k)];
                }
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include "gemm_block.h"

typedef float rk_v16 __attribute__((vector_size(64)));

// The cell kernels' builds (cell_kernels.h, compiled by recurrent_cells.c).
void rk_lstm_forward_avx512(const rk_cell_forward *s);
void rk_gru_forward_avx512(const rk_cell_forward *s);
void rk_rnn_forward_avx512(const rk_cell_forward *s);
void rk_lstm_forward_avx2(const rk_cell_forward *s);
void rk_gru_forward_avx2(const rk_cell_forward *s);
void rk_rnn_forward_avx2(const rk_cell_forward *s);

typedef void (*rk_cell_kernel)(const rk_cell_forward *);

/// acc[gate][row] (ROWS rows) = a (ROWS × len, row stride lda) · the next len rows of the panel,
/// two k at a time into two sets of accumulators (FMA latency), gates and rows as constants.
static inline __attribute__((always_inline)) void rk_stream_dot(rk_v16 acc[4][2], const float *a, int lda, int len,
                                                                const float *w, int G, int ROWS) {
    rk_v16 odd[4][2];
    for (int g = 0; g < G; g++)
        for (int r = 0; r < ROWS; r++) acc[g][r] = odd[g][r] = (rk_v16){0};
    int kk = 0;
    for (; kk + 2 <= len; kk += 2) {
        const float *w0 = w + (size_t)kk * G * RK_PANEL, *w1 = w0 + G * RK_PANEL;
        for (int g = 0; g < G; g++) {
            rk_v16 b0, b1;
            memcpy(&b0, w0 + g * RK_PANEL, sizeof b0);
            memcpy(&b1, w1 + g * RK_PANEL, sizeof b1);
            for (int r = 0; r < ROWS; r++) {
                acc[g][r] += a[(size_t)r * lda + kk] * b0;
                odd[g][r] += a[(size_t)r * lda + kk + 1] * b1;
            }
        }
    }
    if (kk < len) {
        const float *w0 = w + (size_t)kk * G * RK_PANEL;
        for (int g = 0; g < G; g++) {
            rk_v16 b0;
            memcpy(&b0, w0 + g * RK_PANEL, sizeof b0);
            for (int r = 0; r < ROWS; r++) acc[g][r] += a[(size_t)r * lda + kk] * b0;
        }
    }
    for (int g = 0; g < G; g++)
        for (int r = 0; r < ROWS; r++) acc[g][r] += odd[g][r];
}

/// Products and cell step of panel p for rows r0 ..< r0 + ROWS.
static inline __attribute__((always_inline)) void rk_stream_panel(const rk_stream_step *s, int p, int r0, int G, int ROWS,
                                                                  rk_cell_kernel cell) {
    int h = s->hidden, gh = G * h, col = p * RK_PANEL, width = h - col < RK_PANEL ? h - col : RK_PANEL;
    const float *panel = s->packed + (size_t)p * (s->input_k + s->k) * G * RK_PANEL;
    rk_v16 acc[4][2];
    // x_t W_ihᵀ into the gates rows the cell reads (G·H apart per row, H per gate).
    rk_stream_dot(acc, s->input + (size_t)r0 * s->input_k, s->input_k, s->input_k, panel, G, ROWS);
    for (int r = 0; r < ROWS; r++) {
        for (int g = 0; g < G; g++) {
            float *out = s->gates + (size_t)(r0 + r) * gh + (size_t)g * h + col;
            if (width == RK_PANEL) memcpy(out, &acc[g][r], sizeof acc[g][r]);
            else for (int j = 0; j < width; j++) out[j] = acc[g][r][j];
        }
    }
    // h_{t-1} W_hhᵀ into an L1 block, product[g][r][16].
    float product[4 * RK_STREAM_MAX_ROWS * RK_PANEL] __attribute__((aligned(64)));
    if (s->previous_hidden) {
        rk_stream_dot(acc, s->previous_hidden + (size_t)r0 * s->k, s->k, s->k, panel + (size_t)s->input_k * G * RK_PANEL, G, ROWS);
        for (int g = 0; g < G; g++)
            for (int r = 0; r < ROWS; r++) memcpy(product + (g * ROWS + r) * RK_PANEL, &acc[g][r], sizeof acc[g][r]);
    }
    rk_cell_forward tile;
    memset(&tile, 0, sizeof tile);
    tile.rows = ROWS;
    tile.columns = width;
    tile.hidden = h;
    tile.gate_row = gh;
    tile.state_row = h;
    tile.activation = s->activation;
    tile.inference = 1;
    tile.gates = s->gates + (size_t)r0 * gh + col;
    tile.product = s->previous_hidden ? product : NULL;
    tile.product_gate = ROWS * RK_PANEL;
    tile.product_row = RK_PANEL;
    tile.bias_ih = s->bias_ih + col;
    tile.bias_hh = s->bias_hh + col;
    tile.previous = s->previous_state ? s->previous_state + (size_t)r0 * h + col : NULL;
    tile.hidden_out = s->hidden_out + (size_t)r0 * h + col;
    // GRU and RNN write no state forward only; the pointer is only formed.
    tile.state = s->state ? s->state + (size_t)r0 * h + col : tile.hidden_out;
    cell(&tile);
}

/// The panels of one part, in order or last to first, rows in tiles of up to 2 (gates as a constant).
static inline __attribute__((always_inline)) void rk_stream_part(const rk_stream_step *s, int first, int end, int G,
                                                                 rk_cell_kernel cell) {
    for (int i = first; i < end; i++) {
        int p = s->reverse ? end - 1 - (i - first) : i;
        for (int r0 = 0; r0 < s->rows; r0 += 2) {
            if (s->rows - r0 >= 2) rk_stream_panel(s, p, r0, G, 2, cell);
            else rk_stream_panel(s, p, r0, G, 1, cell);
        }
    }
}

#define RK_STREAM_BUILD(suffix, target)                                                            \
    static target void rk_stream_part_##suffix(const rk_stream_step *s, int first, int end) {      \
        switch (s->cell) {                                                                         \
        case RK_CELL_LSTM: rk_stream_part(s, first, end, 4, rk_lstm_forward_##suffix); break;      \
        case RK_CELL_GRU: rk_stream_part(s, first, end, 3, rk_gru_forward_##suffix); break;        \
        default: rk_stream_part(s, first, end, 1, rk_rnn_forward_##suffix); break;                 \
        }                                                                                          \
    }
RK_STREAM_BUILD(avx512, RK_TARGET512)
RK_STREAM_BUILD(avx2, RK_TARGET)
#undef RK_STREAM_BUILD

void rk_stream_step_run(const rk_stream_step *s, int part, int parts) {
    int panels = (s->hidden + RK_PANEL - 1) / RK_PANEL;
    int first = (int)((long)panels * part / parts), end = (int)((long)panels * (part + 1) / parts);
    if (first >= end) return;
    if (rk_cpu_isa() >= RK_ISA_AVX512) rk_stream_part_avx512(s, first, end);
    else rk_stream_part_avx2(s, first, end);
}

static inline void rk_spin_pause(void) { _mm_pause(); }
#else
void rk_stream_step_run(const rk_stream_step *s, int part, int parts) { (void)s; (void)part; (void)parts; }
static inline void rk_spin_pause(void) {}
#endif

// MARK: Team

/// How long a worker spins for the next task before it sleeps, in nanoseconds.
#define RK_TEAM_SPIN_NS 200000

struct rk_team {
    int size;
    pthread_t *threads;
    /// Bumped once per task (and once to stop); a worker runs a task when it sees a new value.
    atomic_uint generation;
    /// Workers done with the current task.
    atomic_int finished;
    /// Workers asleep on `wake` (under `lock`).
    atomic_int sleepers;
    atomic_int stopping;
    void (*body)(void *, int, int);
    void *context;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

typedef struct rk_team_worker {
    rk_team *team;
    int part;
} rk_team_worker;

static long long rk_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/// Waits until the generation moves past `seen`: spins, then sleeps on the condition variable.
static unsigned rk_team_wait(rk_team *t, unsigned seen) {
    long long start = rk_now_ns();
    for (int spins = 0;; spins++) {
        unsigned g = atomic_load_explicit(&t->generation, memory_order_acquire);
        if (g != seen) return g;
        rk_spin_pause();
        if ((spins & 255) == 255 && rk_now_ns() - start > RK_TEAM_SPIN_NS) break;
    }
    pthread_mutex_lock(&t->lock);
    // Announced before the last look at the generation: rk_team_run bumps it, then looks at sleepers.
    atomic_fetch_add(&t->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&t->generation)) == seen) pthread_cond_wait(&t->wake, &t->lock);
    atomic_fetch_sub(&t->sleepers, 1);
    pthread_mutex_unlock(&t->lock);
    return g;
}

static void *rk_team_main(void *argument) {
    rk_team_worker *w = argument;
    rk_team *t = w->team;
    unsigned seen = 0;
    for (;;) {
        seen = rk_team_wait(t, seen);
        if (atomic_load_explicit(&t->stopping, memory_order_acquire)) break;
        t->body(t->context, w->part, t->size);
        atomic_fetch_add_explicit(&t->finished, 1, memory_order_release);
    }
    free(w);
    return NULL;
}

rk_team *rk_team_create(int threads) {
    if (threads < 1) threads = 1;
    rk_team *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->size = threads;
    atomic_init(&t->generation, 0);
    atomic_init(&t->finished, 0);
    atomic_init(&t->sleepers, 0);
    atomic_init(&t->stopping, 0);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    t->threads = calloc((size_t)threads, sizeof *t->threads);
    if (!t->threads) {
        rk_team_destroy(t);
        return NULL;
    }
    for (int i = 1; i < threads; i++) {
        rk_team_worker *w = malloc(sizeof *w);
        if (w) *w = (rk_team_worker){.team = t, .part = i};
        if (!w || pthread_create(&t->threads[i], NULL, rk_team_main, w) != 0) {
            free(w);
            t->size = i;   // the workers started so far are stopped and joined
            rk_team_destroy(t);
            return NULL;
        }
    }
    return t;
}

int rk_team_size(const rk_team *team) { return team->size; }

/// Bumps the generation and wakes any sleeping worker.
static void rk_team_signal(rk_team *t) {
    atomic_fetch_add(&t->generation, 1);
    if (atomic_load(&t->sleepers) > 0) {
        pthread_mutex_lock(&t->lock);
        pthread_cond_broadcast(&t->wake);
        pthread_mutex_unlock(&t->lock);
    }
}

void rk_team_run(rk_team *t, void (*body)(void *, int, int), void *context) {
    if (t->size == 1) {
        body(context, 0, 1);
        return;
    }
    t->body = body;
    t->context = context;
    atomic_store_explicit(&t->finished, 0, memory_order_relaxed);
    rk_team_signal(t);
    body(context, 0, t->size);
    for (int spins = 0; atomic_load_explicit(&t->finished, memory_order_acquire) < t->size - 1; spins++) {
        rk_spin_pause();
        // A worker that lost its core: let it have this one.
        if ((spins & 4095) == 4095) sched_yield();
    }
}

void rk_team_destroy(rk_team *t) {
    if (!t) return;
    if (t->threads) {
        atomic_store_explicit(&t->stopping, 1, memory_order_release);
        pthread_mutex_lock(&t->lock);
        atomic_fetch_add(&t->generation, 1);
        pthread_cond_broadcast(&t->wake);
        pthread_mutex_unlock(&t->lock);
        for (int i = 1; i < t->size; i++) pthread_join(t->threads[i], NULL);
        free(t->threads);
    }
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    free(t);
}

static void rk_stream_body(void *context, int part, int parts) { rk_stream_step_run(context, part, parts); }

void rk_stream_step_team(rk_team *team, const rk_stream_step *step) {
    rk_team_run(team, rk_stream_body, (void *)step);
}

// MARK: Barrier

struct rk_barrier {
    int parties;
    /// Parties arrived in the current phase.
    atomic_int arrived;
    /// Bumped by the last party of each phase.
    atomic_uint phase;
};

rk_barrier *rk_barrier_create(int parties) {
    rk_barrier *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->parties = parties < 1 ? 1 : parties;
    atomic_init(&b->arrived, 0);
    atomic_init(&b->phase, 0);
    return b;
}

void rk_barrier_wait(rk_barrier *b) {
    if (b->parties == 1) return;
    unsigned phase = atomic_load_explicit(&b->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == b->parties - 1) {
        // The last party: the others read `phase` before they arrived, so resetting first is safe.
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->phase, 1, memory_order_release);
        return;
    }
    for (int spins = 1; atomic_load_explicit(&b->phase, memory_order_acquire) == phase; spins++) {
        rk_spin_pause();
        if ((spins & 4095) == 0) sched_yield();
    }
}

void rk_barrier_destroy(rk_barrier *b) { free(b); }

// MARK: Step queue

/// One row block of a step queue, on a cache line of its own (the threads write these flags
/// once per step; blocks sharing a line would make each claim miss on the other core's writes).
typedef struct rk_step_block {
    /// 1 while a thread runs one of the block's steps.
    atomic_int held;
    /// Steps of the block claimed so far (written by the holder only, read by every claimer).
    atomic_int done;
    int steps;
    char pad[64 - 3 * sizeof(int)];
} rk_step_block;

struct rk_step_queue {
    int blocks;
    rk_step_block *block;
};

rk_step_queue *rk_step_queue_create(int blocks, const int *steps) {
    if (blocks < 1) blocks = 1;
    rk_step_queue *q = calloc(1, sizeof *q);
    void *memory = NULL;
    if (!q || posix_memalign(&memory, 64, (size_t)blocks * sizeof(rk_step_block)) != 0) {
        free(q);
        return NULL;
    }
    q->blocks = blocks;
    q->block = memory;
    for (int b = 0; b < blocks; b++) {
        atomic_init(&q->block[b].held, 0);
        atomic_init(&q->block[b].done, 0);
        q->block[b].steps = steps[b] > 0 ? steps[b] : 0;
    }
    return q;
}

int rk_step_queue_claim(rk_step_queue *q, int *step) {
    for (int spins = 1;; spins++) {
        // The block furthest behind among those with steps left that no thread holds.
        int best = -1, best_done = 0, left = 0;
        for (int b = 0; b < q->blocks; b++) {
            rk_step_block *k = &q->block[b];
            int done = atomic_load_explicit(&k->done, memory_order_relaxed);
            if (done >= k->steps) continue;
            left = 1;
            if (atomic_load_explicit(&k->held, memory_order_relaxed)) continue;
            if (best < 0 || done < best_done) best = b, best_done = done;
        }
        if (!left) return -1;
        if (best >= 0) {
            rk_step_block *k = &q->block[best];
            int expected = 0;
            // Acquire: the step that the last holder released is complete in this thread's view.
            if (atomic_compare_exchange_strong_explicit(&k->held, &expected, 1, memory_order_acquire, memory_order_relaxed)) {
                int done = atomic_load_explicit(&k->done, memory_order_relaxed);
                if (done < k->steps) {
                    atomic_store_explicit(&k->done, done + 1, memory_order_relaxed);
                    *step = done;
                    return best;
                }
                atomic_store_explicit(&k->held, 0, memory_order_relaxed);
            }
            continue;
        }
        rk_spin_pause();
        if ((spins & 4095) == 0) sched_yield();
    }
}

void rk_step_queue_release(rk_step_queue *q, int block) {
    atomic_store_explicit(&q->block[block].held, 0, memory_order_release);
}

void rk_step_queue_destroy(rk_step_queue *q) {
    if (!q) return;
    free(q->block);
    free(q);
}
