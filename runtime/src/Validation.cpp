//===- Validation.cpp - a training package's validation loss --------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Validation.h"

#include "tessera/runtime/Roles.h"

#include <cstring>

namespace tessera::rt {

Status Validation::create(const std::shared_ptr<Package> &package, MeshRunner &training,
                          const SessionOptions &options, std::unique_ptr<Validation> &out) {
  std::unique_ptr<Validation> v(new Validation());
  std::vector<Session *> sessions(size_t(training.ranks()), nullptr);
  std::vector<Communicator *> comms(size_t(training.ranks()), nullptr);
  for (int r = 0; r < training.ranks(); ++r) {
    Session *step = training.session(r);
    comms[size_t(r)] = training.comm(r);
    if (!step)
      continue; // another process's rank
    std::unique_ptr<Session> session;
    if (Status s = Session::createEval(package, r, *step, session, options); !s.ok())
      return s;
    if (comms[size_t(r)])
      if (Status s = session->bindCommunicator(*comms[size_t(r)]); !s.ok())
        return s;
    sessions[size_t(r)] = session.get();
    v->sessions_.push_back(std::move(session));
  }
  v->leader_ = sessions[0] != nullptr;
  if (Status s = MeshRunner::create(*package, sessions, comms, v->runner_, training.group(),
                                    std::string(roles::kEvalRole));
      !s.ok())
    return s;
  out = std::move(v);
  return Status::okStatus();
}

Status Validation::loss(const std::map<std::string, HostTensor> &batch, double &out) {
  out = 0;
  for (const TensorInfo &info : runner_->inputs()) {
    auto it = batch.find(info.name);
    if (it == batch.end())
      return Status(StatusCode::InvalidArgument,
                    "validation: no value for input '" + info.name + "' (" +
                        std::string(dtypeName(info.dtype)) + " " + formatShape(info.shape) + ")");
    if (Status s = runner_->setInput(info.name, it->second); !s.ok())
      return s;
  }
  if (Status s = runner_->run(); !s.ok())
    return s;
  if (!leader_)
    return Status::okStatus();
  HostTensor loss;
  if (Status s = runner_->getOutput("loss", loss); !s.ok())
    return s;
  float value = 0;
  if (loss.dtype != DType::F32 || loss.data.size() < sizeof(float))
    return Status(StatusCode::DataLoss, "validation: the loss is not an f32 scalar");
  std::memcpy(&value, loss.data.data(), sizeof(float));
  out = value;
  return Status::okStatus();
}

} // namespace tessera::rt
