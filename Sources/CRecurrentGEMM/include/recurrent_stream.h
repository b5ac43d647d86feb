// Forward-only steps of a few sequences (streaming): x_t and h_{t-1} against one packed copy of
// [W_ih | W_hh], read once per step in one pass, the cell step applied to each 16-unit panel as
// soon as its products are made; and a team of threads that split a step's panels between cores
// and wait for each other by spinning, with no thread hand-off per step.
// B = rows (sequences), I = input size, K = width of h_{t-1}, H = hidden size, G = gates.
#pragma once
#include <stddef.h>

/// Rows (sequences) `rk_stream_step_run` takes at most.
#define RK_STREAM_MAX_ROWS 4

/// Floats that `rk_stream_pack` writes: ceil(H/16) panels of (I + K) × G × 16.
size_t rk_stream_packed_size(int input_k, int k, int gates, int hidden);

/// Packs W_ih (G·H, I) and W_hh (G·H, K), row-major, for `rk_stream_step_run`: panel p holds units
/// p·16 ..< p·16 + 16 (zero past H); within it, for each row kk of [W_ihᵀ ; W_hhᵀ] (I + K rows), the
/// 16 units of gate 0, then gate 1, and so on, so that one step reads the panel front to back.
void rk_stream_pack(float *packed, const float *weight_ih, const float *weight_hh, int input_k, int k, int gates,
                    int hidden);

/// One forward-only step of `rows` sequences, described once and run in parts.
typedef struct rk_stream_step {
    /// RK_CELL_LSTM, RK_CELL_GRU or RK_CELL_RNN; RK_TANH or RK_RELU for the RNN.
    int cell, activation;
    int gate_count, hidden, input_k, k, rows;
    /// From rk_stream_pack.
    const float *packed;
    /// (B, I) x_t; (B, K) h_{t-1} (NULL: zero); (B, H) c_{t-1} (LSTM) or h_{t-1} (GRU, K = H), NULL: zero.
    const float *input, *previous_hidden, *previous_state;
    /// (G·H) b_ih and b_hh.
    const float *bias_ih, *bias_hh;
    /// (B, G·H) scratch: x_t W_ihᵀ of the panel the cell step is reading.
    float *gates;
    /// (B, H) c_t (LSTM; unused otherwise), and h_t (m_t for an LSTM with a projection).
    float *state, *hidden_out;
    /// Nonzero: the parts walk their panels last to first. Alternating it from step to step makes
    /// each step start on the panels the previous one read last, still in the core's L2.
    int reverse;
} rk_stream_step;

/// Part `part` of `parts` of the step (needs rk_packed_gemm_available() and rows ≤ RK_STREAM_MAX_ROWS):
/// the panels part·P/parts ..< (part+1)·P/parts of P = ceil(H/16), products and cell step.
void rk_stream_step_run(const rk_stream_step *step, int part, int parts);

/// Threads that run the parts of a task side by side: the caller runs part 0 and `threads` − 1
/// workers the others, each always the same part, so that a core keeps reading the same data.
/// Between tasks a worker spins for a short while, then sleeps until the next one.
typedef struct rk_team rk_team;

/// A team of `threads` (≥ 1; 1: the caller alone); NULL if a thread could not be started.
rk_team *rk_team_create(int threads);

/// Threads of the team, the caller included.
int rk_team_size(const rk_team *team);

/// Runs body(context, part, size) for every part in 0 ..< size at once, part 0 on the calling
/// thread, and returns when all have. One caller at a time.
void rk_team_run(rk_team *team, void (*body)(void *context, int part, int parts), void *context);

/// Stops and joins the workers, and frees the team.
void rk_team_destroy(rk_team *team);

/// rk_stream_step_run over the team's threads.
void rk_stream_step_team(rk_team *team, const rk_stream_step *step);

/// A barrier for the threads that run the parts of one task side by side (the parts of an
/// rk_team_run, which are on distinct threads): each part calls rk_barrier_wait once per phase
/// and returns when all `parties` have. Waiters spin (yielding the core now and then, in case the
/// last party lost its core), since the phases are a few microseconds to a millisecond long.
typedef struct rk_barrier rk_barrier;

/// A barrier for `parties` (≥ 1) threads; NULL when out of memory.
rk_barrier *rk_barrier_create(int parties);

/// Waits until every party has called it for this phase.
void rk_barrier_wait(rk_barrier *barrier);

/// Frees the barrier (no party may be waiting on it).
void rk_barrier_destroy(rk_barrier *barrier);

/// The steps of a time loop's independent row blocks, handed out one at a time to the threads
/// that share the loop: a thread claims the block furthest behind that no thread holds, runs its
/// next step and releases it, so that a thread whose core runs slower takes fewer steps instead
/// of holding the others up at the end. A block's steps run in order, one thread at a time; a
/// claim sees everything the block's earlier steps wrote (release/acquire on the block's flag).
typedef struct rk_step_queue rk_step_queue;

/// A queue over `blocks` (≥ 1) blocks, block b with steps[b] (≥ 0) steps; NULL when out of memory.
rk_step_queue *rk_step_queue_create(int blocks, const int *steps);

/// Claims the next step of a block: returns the block and stores in *step how many of its steps
/// have run before this one; returns -1 once every step of every block has been claimed. While
/// the only blocks with steps left are held by other threads, waits (spinning, yielding now and then).
int rk_step_queue_claim(rk_step_queue *queue, int *step);

/// Ends the step claimed of `block`.
void rk_step_queue_release(rk_step_queue *queue, int block);

/// Frees the queue (no thread may be using it).
void rk_step_queue_destroy(rk_step_queue *queue);
