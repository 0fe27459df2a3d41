//===- CApi.cpp - the Tessera runtime C API -------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/tessera_runtime.h"

#include "tessera/runtime/Session.h"

#include <cstring>
#include <new>

using namespace tessera::rt;

struct tsr_package {
  std::shared_ptr<Package> package;
};

struct tsr_session {
  std::unique_ptr<Session> session;
};

namespace {

thread_local std::string lastError;

tsr_status_t report(const Status &status) {
  lastError = status.message();
  return tsr_status_t(status.code());
}

tsr_status_t invalid(const std::string &message) {
  return report(Status(StatusCode::InvalidArgument, message));
}

/// Runs `body`, turning any C++ exception (bad_alloc) into a status.
template <typename Body> tsr_status_t guarded(Body &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return report(Status(StatusCode::Internal, "out of memory"));
  } catch (const std::exception &e) {
    return report(Status(StatusCode::Internal, e.what()));
  }
}

tsr_status_t info(const std::vector<TensorInfo> &infos, size_t index,
                  const char **name, tsr_dtype_t *dtype, const int64_t **shape,
                  size_t *rank) {
  if (index >= infos.size())
    return invalid("index " + std::to_string(index) + " out of range (" +
                   std::to_string(infos.size()) + ")");
  const TensorInfo &t = infos[index];
  if (name)
    *name = t.name.c_str();
  if (dtype)
    *dtype = tsr_dtype_t(t.dtype);
  if (shape)
    *shape = t.shape.data();
  if (rank)
    *rank = t.shape.size();
  return TSR_OK;
}

} // namespace

extern "C" {

void tsr_session_options_initialize(tsr_session_options_t *options) {
  options->rank = 0;
  options->num_threads = 0;
  options->profile = 0;
  options->backend = "cpu";
  options->device = -1;
}

const char *tsr_last_error(void) { return lastError.c_str(); }

tsr_status_t tsr_package_open(const char *path, tsr_package_t **out) {
  if (!path || !out)
    return invalid("tsr_package_open: null argument");
  return guarded([&] {
    auto handle = std::make_unique<tsr_package>();
    if (Status s = Package::open(path, handle->package); !s.ok())
      return report(s);
    *out = handle.release();
    return TSR_OK;
  });
}

void tsr_package_release(tsr_package_t *package) { delete package; }

tsr_status_t tsr_session_create(tsr_package_t *package,
                                const tsr_session_options_t *options,
                                tsr_session_t **out) {
  if (!package || !out)
    return invalid("tsr_session_create: null argument");
  tsr_session_options_t defaults;
  tsr_session_options_initialize(&defaults);
  if (!options)
    options = &defaults;
  return guarded([&] {
    auto handle = std::make_unique<tsr_session>();
    SessionOptions sessionOptions;
    sessionOptions.backend = options->backend ? options->backend : "cpu";
    sessionOptions.device = options->device;
    sessionOptions.threads = options->num_threads > 0 ? options->num_threads : 0;
    if (Status s = Session::create(package->package, options->rank, handle->session,
                                   sessionOptions);
        !s.ok())
      return report(s);
    handle->session->enableProfiling(options->profile != 0);
    *out = handle.release();
    return TSR_OK;
  });
}

void tsr_session_release(tsr_session_t *session) { delete session; }

size_t tsr_session_input_count(const tsr_session_t *s) {
  return s ? s->session->inputs().size() : 0;
}

size_t tsr_session_output_count(const tsr_session_t *s) {
  return s ? s->session->outputs().size() : 0;
}

tsr_status_t tsr_session_input_info(const tsr_session_t *s, size_t index,
                                    const char **name, tsr_dtype_t *dtype,
                                    const int64_t **shape, size_t *rank) {
  if (!s)
    return invalid("tsr_session_input_info: null session");
  return info(s->session->inputs(), index, name, dtype, shape, rank);
}

tsr_status_t tsr_session_output_info(const tsr_session_t *s, size_t index,
                                     const char **name, tsr_dtype_t *dtype,
                                     const int64_t **shape, size_t *rank) {
  if (!s)
    return invalid("tsr_session_output_info: null session");
  return info(s->session->outputs(), index, name, dtype, shape, rank);
}

tsr_status_t tsr_session_set_input(tsr_session_t *s, const char *name,
                                   tsr_dtype_t dtype, const int64_t *shape,
                                   size_t rank, const void *data, size_t bytes) {
  if (!s || !name || (!data && bytes) || (!shape && rank))
    return invalid("tsr_session_set_input: null argument");
  if (uint32_t(dtype) > uint32_t(TSR_BOOL))
    return invalid("tsr_session_set_input: unknown dtype");
  return guarded([&] {
    HostTensor t;
    t.dtype = DType(dtype);
    t.shape.assign(shape, shape + rank);
    if (uint64_t(t.numElements()) * dtypeSize(t.dtype) != bytes)
      return invalid(std::string("input '") + name + "': " + std::to_string(bytes) +
                     " bytes do not fit " + formatShape(t.shape));
    t.data.assign(static_cast<const uint8_t *>(data),
                  static_cast<const uint8_t *>(data) + bytes);
    return report(s->session->setInput(name, t));
  });
}

tsr_status_t tsr_session_run(tsr_session_t *s) {
  if (!s)
    return invalid("tsr_session_run: null session");
  return guarded([&] { return report(s->session->run()); });
}

tsr_status_t tsr_session_get_output(tsr_session_t *s, const char *name,
                                    void *data, size_t bytes) {
  if (!s || !name || !data)
    return invalid("tsr_session_get_output: null argument");
  return guarded([&] {
    HostTensor t;
    if (Status st = s->session->getOutput(name, t); !st.ok())
      return report(st);
    if (t.data.size() != bytes)
      return invalid(std::string("output '") + name + "' has " +
                     std::to_string(t.data.size()) + " bytes, the buffer " +
                     std::to_string(bytes));
    std::memcpy(data, t.data.data(), bytes);
    return TSR_OK;
  });
}

} // extern "C"
