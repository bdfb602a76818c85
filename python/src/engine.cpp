// engine.h and scripted_engine.h: requests, answers, the Engine base, and engines written in
// Python (an object with generate(prompt, system_prompt=None, **kwargs)).
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common.h"
#include "textgrad/errors.h"
#include "textgrad/scripted_engine.h"

namespace tgpy {
namespace {

// The user turn as the reference's engines take it: a str, or a list of str and bytes items
// when it has several parts or images.
py::object prompt_of(const tg::Request& request) {
  if (request.content.size() == 1 && !request.content[0].is_image()) {
    return py::str(request.content[0].text);
  }
  py::list items;
  for (const tg::ContentPart& part : request.content) {
    if (part.is_image()) {
      items.append(py::bytes(part.data));
    } else {
      items.append(py::str(part.text));
    }
  }
  return items;
}

// The reverse: a str, or a list of str and bytes (images, media type detected from the bytes).
std::vector<tg::ContentPart> content_of(const py::object& prompt) {
  if (py::isinstance<py::str>(prompt)) return {tg::ContentPart::Text(prompt.cast<std::string>())};
  std::vector<tg::ContentPart> parts;
  for (py::handle item : prompt) {
    if (py::isinstance<py::bytes>(item)) {
      parts.push_back(tg::Variable::image(item.cast<std::string>(), "image").image_part());
    } else if (py::isinstance<tg::Variable>(item)) {
      tg::Variable variable = item.cast<tg::Variable>();
      parts.push_back(variable.is_image() ? variable.image_part()
                                          : tg::ContentPart::Text(variable.value()));
    } else {
      parts.push_back(tg::ContentPart::Text(py::str(item)));
    }
  }
  return parts;
}

tg::SamplingParams sampling_of(tg::SamplingParams params, const py::kwargs& kwargs) {
  for (auto [key, value] : kwargs) {
    const std::string name = py::str(key);
    if (name == "temperature") {
      params.temperature = value.cast<std::optional<double>>();
    } else if (name == "max_tokens") {
      params.max_tokens = value.cast<std::optional<int>>();
    } else if (name == "top_p") {
      params.top_p = value.cast<std::optional<double>>();
    } else if (name == "seed") {
      params.seed = value.cast<std::optional<std::int64_t>>();
    } else if (name == "stop") {
      params.stop = value.cast<std::vector<std::string>>();
    } else {
      throw tg::InvalidArgument("generate() got an unknown keyword argument '" + name +
                                "'; accepted: temperature, max_tokens, top_p, seed, stop");
    }
  }
  return params;
}

std::string generate(tg::Engine& engine, const py::object& prompt, const py::object& system,
                     const py::kwargs& kwargs) {
  tg::Request request;
  request.content = content_of(prompt);
  if (!system.is_none()) request.system_prompt = system.cast<std::string>();
  if (kwargs.size() > 0) request.sampling = sampling_of(engine.info().default_sampling, kwargs);
  py::gil_scoped_release release;
  return engine.generate(std::move(request)).text;
}

// Note [Python engines run on their own workers]
// Engine::submit must not block, and its callers include the transport's I/O thread and the
// backward executor, neither of which may wait for the GIL. So a Python engine queues each
// request for a small pool of worker threads of its own; a worker takes the GIL only to call
// generate(), then delivers the answer without it. Up to max_workers calls run at once, which
// is real concurrency when generate() waits on I/O with the GIL released (as HTTP clients do).
class PythonEngine : public tg::Engine {
 public:
  PythonEngine(py::object engine, int max_workers)
      : pool_(std::make_shared<Pool>(PyRef(std::move(engine)), std::max(1, max_workers))) {
    const py::object& object = pool_->engine.get();
    std::string name = py::str(py::type::of(object).attr("__name__"));
    if (py::hasattr(object, "model_string")) name = py::str(object.attr("model_string"));
    info_.name = name;
    info_.provider = "python";
    info_.model = name;
    if (py::hasattr(object, "is_multimodal") && !object.attr("is_multimodal").is_none()) {
      info_.accepts_images = object.attr("is_multimodal").cast<bool>();
    }
  }
  ~PythonEngine() override {
    std::lock_guard lock(pool_->mu);
    pool_->stopping = true;
    pool_->wake.notify_all();
  }

  tg::EngineInfo info() const override { return info_; }

  void submit(tg::Request request, std::function<void(tg::Outcome)> done) override {
    std::lock_guard lock(pool_->mu);
    pool_->queue.push_back({std::move(request), std::move(done)});
    if (pool_->idle == 0 && pool_->workers < pool_->max_workers) {
      ++pool_->workers;
      std::thread([pool = pool_, name = info_.name] { work(*pool, name); }).detach();
    } else {
      pool_->wake.notify_one();
    }
  }

 private:
  struct Job {
    tg::Request request;
    std::function<void(tg::Outcome)> done;
  };
  struct Pool {
    Pool(PyRef e, int n) : engine(std::move(e)), max_workers(n) {}
    PyRef engine;
    const int max_workers;
    std::mutex mu;
    std::condition_variable wake;
    std::deque<Job> queue;
    int workers = 0;
    int idle = 0;
    bool stopping = false;
  };

  // Workers hold the pool, not the engine, so they finish queued calls after the engine is
  // gone and then exit.
  static void work(Pool& pool, const std::string& name) {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(pool.mu);
        ++pool.idle;
        pool.wake.wait(lock, [&] { return pool.stopping || !pool.queue.empty(); });
        --pool.idle;
        if (pool.queue.empty()) {
          --pool.workers;
          return;
        }
        job = std::move(pool.queue.front());
        pool.queue.pop_front();
      }
      tg::Outcome outcome;
      try {
        outcome.response.text = call(pool.engine, name, job.request);
        outcome.response.model = name;
        outcome.response.finish_reason = "stop";
      } catch (...) {
        outcome.error = std::current_exception();
      }
      job.done(std::move(outcome));
    }
  }

  static std::string call(const PyRef& engine, const std::string& name,
                          const tg::Request& request) {
    if (!Py_IsInitialized()) {
      throw tg::EngineError(tg::EngineErrorKind::kCancelled, "the Python interpreter has exited");
    }
    py::gil_scoped_acquire gil;
    try {
      py::dict kwargs;
      if (request.sampling) {
        if (request.sampling->temperature) kwargs["temperature"] = *request.sampling->temperature;
        if (request.sampling->max_tokens) kwargs["max_tokens"] = *request.sampling->max_tokens;
        if (request.sampling->top_p) kwargs["top_p"] = *request.sampling->top_p;
      }
      py::object system = py::none();
      if (!request.system_prompt.empty()) system = py::str(request.system_prompt);
      py::object answer = engine.get().attr("generate")(prompt_of(request), system, **kwargs);
      if (!py::isinstance<py::str>(answer)) {
        throw tg::Error("engine '" + name + "': generate() must return a str, got " +
                        std::string(py::str(py::type::of(answer).attr("__name__"))));
      }
      return answer.cast<std::string>();
    } catch (py::error_already_set& error) {
      throw tg::Error("engine '" + name + "': generate() raised " + describe_python_error(error));
    }
  }

  std::shared_ptr<Pool> pool_;
  tg::EngineInfo info_;
};

// A Python responder for ScriptedEngine, called with the GIL taken.
tg::ScriptedEngine::Responder python_responder(py::object function) {
  return [fn = PyRef(std::move(function))](const tg::Request& request) {
    py::gil_scoped_acquire gil;
    try {
      return fn.get()(request).cast<std::string>();
    } catch (py::error_already_set& error) {
      throw tg::Error("scripted responder raised " + describe_python_error(error));
    }
  };
}

}  // namespace

tg::EnginePtr make_python_engine(py::object engine, int max_workers) {
  return std::make_shared<PythonEngine>(std::move(engine), max_workers);
}

void bind_engine(py::module_& m) {
  py::enum_<tg::Phase>(m, "Phase", "Which part of an optimization a call belongs to.")
      .value("forward", tg::Phase::kForward)
      .value("loss", tg::Phase::kLoss)
      .value("backward", tg::Phase::kBackward)
      .value("reduce", tg::Phase::kReduce)
      .value("update", tg::Phase::kUpdate)
      .value("evaluation", tg::Phase::kEvaluation)
      .value("other", tg::Phase::kOther);

  py::class_<tg::ContentPart>(m, "ContentPart", "One part of a user turn: text or an image.")
      .def_property_readonly("is_image", &tg::ContentPart::is_image)
      .def_readonly("text", &tg::ContentPart::text)
      .def_readonly("media_type", &tg::ContentPart::media_type)
      .def_property_readonly("data", [](const tg::ContentPart& p) { return py::bytes(p.data); });

  py::class_<tg::SamplingParams>(m, "SamplingParams",
                                 "Sampling parameters; None is not sent. Defaults are the "
                                 "reference's (temperature 0, max_tokens 2000, top_p 0.99).")
      .def(py::init<>())
      .def_readwrite("temperature", &tg::SamplingParams::temperature)
      .def_readwrite("max_tokens", &tg::SamplingParams::max_tokens)
      .def_readwrite("top_p", &tg::SamplingParams::top_p)
      .def_readwrite("seed", &tg::SamplingParams::seed)
      .def_readwrite("stop", &tg::SamplingParams::stop)
      .def_readwrite("json_schema", &tg::SamplingParams::json_schema);

  py::class_<tg::Request>(m, "Request", "One LLM request: system prompt, user turn, sampling.")
      .def_readonly("system_prompt", &tg::Request::system_prompt)
      .def_readonly("content", &tg::Request::content)
      .def_readonly("sampling", &tg::Request::sampling)
      .def_readonly("phase", &tg::Request::phase)
      .def_readonly("sample_index", &tg::Request::sample_index)
      .def("user_text", &tg::Request::user_text, "The text parts joined by blank lines.")
      .def("has_images", &tg::Request::has_images);

  py::class_<tg::EngineInfo>(m, "EngineInfo")
      .def_readonly("name", &tg::EngineInfo::name)
      .def_readonly("provider", &tg::EngineInfo::provider)
      .def_readonly("model", &tg::EngineInfo::model)
      .def_readonly("accepts_images", &tg::EngineInfo::accepts_images)
      .def_readonly("default_sampling", &tg::EngineInfo::default_sampling);

  py::class_<tg::Engine, tg::EnginePtr>(m, "Engine", py::dynamic_attr(),
                                        "An LLM engine made by the library (get_engine, "
                                        "with_cache, ...). Safe to use from many threads.")
      .def_property_readonly("info", &tg::Engine::info)
      .def_property_readonly("model_string", &tg::Engine::name)
      .def_property_readonly("name", &tg::Engine::name)
      .def("generate", &generate, py::arg("prompt"), py::arg("system_prompt") = py::none(),
           "Sends one request and waits for the answer (the GIL is released while waiting). "
           "prompt: a str, or a list of str and image bytes. Keyword arguments: temperature, "
           "max_tokens, top_p, seed, stop.")
      .def("__call__", &generate, py::arg("prompt"), py::arg("system_prompt") = py::none())
      .def("__repr__",
           [](const tg::Engine& e) { return "<textgrad_cpp.Engine " + e.name() + ">"; });

  py::class_<tg::ScriptedEngine, tg::Engine, std::shared_ptr<tg::ScriptedEngine>>(
      m, "ScriptedEngine",
      "An engine whose answers come from a Python function of the Request, for tests, examples "
      "and dry runs. Records every request.")
      .def(py::init([](py::object responder, std::string name, int delay_ms, bool accepts_images) {
             tg::ScriptedEngine::Options options;
             options.name = std::move(name);
             options.delay = std::chrono::milliseconds(delay_ms);
             options.accepts_images = accepts_images;
             return std::make_shared<tg::ScriptedEngine>(python_responder(std::move(responder)),
                                                         options);
           }),
           py::arg("responder"), py::arg("name") = "scripted", py::arg("delay_ms") = 0,
           py::arg("accepts_images") = true)
      .def_static(
          "echo", [] { return tg::ScriptedEngine::echo(); },
          "An engine that answers with the user text.")
      .def_property_readonly("calls", &tg::ScriptedEngine::calls)
      .def_property_readonly("peak_in_flight", &tg::ScriptedEngine::peak_in_flight)
      .def("requests", &tg::ScriptedEngine::requests)
      .def("reset", &tg::ScriptedEngine::reset);
}

}  // namespace tgpy
