/*===- tessera_runtime.h - the Tessera runtime C API ------------*- C -*-===*\
|*                                                                            *|
|* Part of Tessera.                                                           *|
|*                                                                            *|
|* Opaque handles, status codes and options with defaults; no exception or    *|
|* C++ type crosses this boundary. The message of the last failure on the     *|
|* calling thread is tsr_last_error().                                        *|
|*                                                                            *|
|* Thread safety: a package may be shared by any number of sessions and       *|
|* threads; a session is used by one thread at a time.                        *|
\*===----------------------------------------------------------------------===*/

#ifndef TESSERA_RUNTIME_TESSERA_RUNTIME_H
#define TESSERA_RUNTIME_TESSERA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_status {
  TSR_OK = 0,
  TSR_INVALID_ARGUMENT = 1,
  TSR_NOT_FOUND = 2,
  TSR_DATA_LOSS = 3,
  TSR_UNIMPLEMENTED = 4,
  TSR_INTERNAL = 5,
} tsr_status_t;

/* Element types, numbered as in packages. */
typedef enum tsr_dtype {
  TSR_F32 = 0, TSR_F16 = 1, TSR_BF16 = 2, TSR_F64 = 3,
  TSR_I8 = 4, TSR_I32 = 5, TSR_I64 = 6, TSR_BOOL = 7,
} tsr_dtype_t;

typedef struct tsr_package tsr_package_t;
typedef struct tsr_session tsr_session_t;

typedef struct tsr_session_options {
  int32_t rank;        /* which rank's program to run (default 0) */
  int32_t num_threads; /* CPU threads of each run; 0 = TESSERA_NUM_THREADS, else OMP_NUM_THREADS, else the cores / the MPI launcher's ranks on the host (default 0) */
  int32_t profile;     /* collect per-kernel timings (default 0) */
  const char *backend; /* "cpu" (default), "cuda" (packages compiled with
                          --target=cuda, on a GPU) or "cuda-host" (their
                          kernels emulated on the CPU, for tests) */
  int32_t device;      /* CUDA device; -1: rank modulo the GPUs (default -1) */
} tsr_session_options_t;

/* Fills `options` with the defaults. */
void tsr_session_options_initialize(tsr_session_options_t *options);

/* The message of the calling thread's last failure ("" if none). */
const char *tsr_last_error(void);

/* Opens and validates a package (version, checksum, plan). */
tsr_status_t tsr_package_open(const char *path, tsr_package_t **out_package);
void tsr_package_release(tsr_package_t *package);

tsr_status_t tsr_session_create(tsr_package_t *package,
                                const tsr_session_options_t *options,
                                tsr_session_t **out_session);
void tsr_session_release(tsr_session_t *session);

size_t tsr_session_input_count(const tsr_session_t *session);
size_t tsr_session_output_count(const tsr_session_t *session);
/* Name, element type and shape of input/output `index`; the pointers stay
   valid while the session lives. */
tsr_status_t tsr_session_input_info(const tsr_session_t *session, size_t index,
                                    const char **out_name,
                                    tsr_dtype_t *out_dtype,
                                    const int64_t **out_shape,
                                    size_t *out_rank);
tsr_status_t tsr_session_output_info(const tsr_session_t *session, size_t index,
                                     const char **out_name,
                                     tsr_dtype_t *out_dtype,
                                     const int64_t **out_shape,
                                     size_t *out_rank);

/* Copies `bytes` of C-order data into the named input; type and shape must
   match the input's. */
tsr_status_t tsr_session_set_input(tsr_session_t *session, const char *name,
                                   tsr_dtype_t dtype, const int64_t *shape,
                                   size_t rank, const void *data, size_t bytes);
tsr_status_t tsr_session_run(tsr_session_t *session);
/* Copies the named output into `data`, which holds `bytes` bytes. */
tsr_status_t tsr_session_get_output(tsr_session_t *session, const char *name,
                                    void *data, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_RUNTIME_TESSERA_RUNTIME_H */
