// SSYNC receiver sessions fed from hand-written request bodies, and a sender talking
// to a receiver over in-memory pipes.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <set>
#include <thread>

#include "diskfile/object_writer.h"
#include "diskfile/object_reader.h"
#include "diskfile/yield_hashes.h"
#include "diskfile/timestamp.h"
#include "diskfile/object_metadata.h"
#include "ring/hash_path.h"
#include "diskfile/handoff_cleanup.h"
#include "net/framing.h"
#include "sync_backends/ssync/ssync_receiver.h"
#include "sync_backends/ssync/ssync_sender.h"
#include "tests/unit/hashes_test_util.h"
#include "tests/unit/ssync_test_util.h"

namespace net = replicant::net;
namespace ssync = replicant::sync::ssync;
namespace diskfile = replicant::diskfile;
using replicant::Status;
using replicant::testing::List;
using replicant::testing::PipeStream;
using replicant::testing::SinkStream;
using replicant::testing::SourceStream;
using replicant::testing::TempDir;

namespace {

const char kPrefix[] = "pre";
const char kSuffix[] = "suf";
// Recent times: tombstones older than reclaim_age would be reclaimed on sight.
std::string RecentTs(int delta) {
  double base = std::floor(replicant::Timestamp::Now().seconds()) - 1000;
  return replicant::Timestamp::FromSeconds(base + delta).value().internal();
}
const std::string kTs = RecentTs(0);
const std::string kTs2 = RecentTs(1);
const std::string kTs3 = RecentTs(2);

std::string HashOf(const std::string& obj) { return replicant::HashPathHex(kPrefix, kSuffix, "a", "c", obj); }

struct Node {
  TempDir dir;
  std::string devices() const { return dir.path(); }
  std::string part_dir() const { return dir / "sdb1/objects/7"; }
  std::string hash_dir(const std::string& obj) const {
    std::string h = HashOf(obj);
    return part_dir() + "/" + h.substr(29) + "/" + h;
  }
  ssync::SsyncRequest Request() const {
    ssync::SsyncRequest r;
    r.devices_dir = devices();
    r.device = "sdb1";
    r.partition = "7";
    r.hash_path_prefix = kPrefix;
    r.hash_path_suffix = kSuffix;
    r.remote_addr = "test";
    r.replication_lock_timeout = 1;
    return r;
  }
  // Runs a session on `body`; returns the response text.
  std::string Run(const std::string& body, Status end = Status::OK()) const {
    SourceStream in(body, end);
    SinkStream out;
    (void)ssync::HandleSsync(Request(), in, out);
    return out.data;
  }
};

std::string Put(const std::string& obj, const std::string& body, const std::string& ts = kTs,
                const std::string& extra = "") {
  return "PUT /a/c/" + obj + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nContent-Type: text/plain\r\nETag: " + replicant::HexEncode(replicant::Md5Digest(body)) +
         "\r\nX-Object-Meta-Color: blue\r\n" + extra + "X-Timestamp: " + ts + "\r\n\r\n" + body;
}

std::string Session(const std::string& missing, const std::string& updates) {
  return ":MISSING_CHECK: START\r\n" + missing + ":MISSING_CHECK: END\r\n:UPDATES: START\r\n" +
         updates + ":UPDATES: END\r\n";
}

const std::string kOk = "\r\n:MISSING_CHECK: START\r\n\r\n:MISSING_CHECK: END\r\n"
                        ":UPDATES: START\r\n:UPDATES: END\r\n";

bool HasFiles(const std::string& dir) { return !List(dir).empty(); }

}  // namespace

TEST_CASE("Receiver: missing check answers and updates land on disk", "[ssync]") {
  Node n;
  std::string h = HashOf("o");
  std::string resp = n.Run(Session(h + " " + kTs + "\r\n", Put("o", "hello")));
  CHECK(resp == "\r\n:MISSING_CHECK: START\r\n" + h + " dm\r\n:MISSING_CHECK: END\r\n"
                ":UPDATES: START\r\n:UPDATES: END\r\n");
  auto obj = diskfile::OpenObject(n.hash_dir("o"));
  REQUIRE(obj.ok());
  std::vector<std::string> keys;
  for (const auto& [k, v] : obj->datafile_metadata) keys.push_back(k);
  // The object server's order: its own four, meta headers, then replication headers.
  CHECK(keys == std::vector<std::string>{"X-Timestamp", "Content-Type", "Content-Length", "ETag",
                                         "X-Object-Meta-Color", "name"});
  CHECK(*obj->datafile_metadata.Get("name") == "/a/c/o");
  CHECK(*obj->datafile_metadata.Get("X-Object-Meta-Color") == "blue");
  CHECK(obj->data_timestamp.internal() == kTs);

  // In sync now: nothing wanted. A newer .meta is asked for as "m" and lands as .meta.
  CHECK(n.Run(Session(h + " " + kTs + "\r\n", "")) == kOk);
  resp = n.Run(Session(h + " " + kTs + " m:186a0\r\n",
                       "POST /a/c/o\r\nContent-Type: text/x\r\nContent-Type-Timestamp: " +
                           kTs2 + "\r\nX-Object-Meta-New: 1\r\nX-Timestamp: " + kTs2 +
                           "\r\n\r\n"));
  CHECK(resp.find(h + " m\r\n") != std::string::npos);
  CHECK(resp.find(":ERROR:") == std::string::npos);
  obj = diskfile::OpenObject(n.hash_dir("o"));
  REQUIRE(obj.ok());
  CHECK(obj->timestamp.internal() == kTs2);
  CHECK(obj->metadata.GetOr("Content-Type", "") == "text/x");
  CHECK(obj->metadata.GetOr("X-Object-Meta-New", "") == "1");
  CHECK_FALSE(obj->metadata.Has("X-Object-Meta-Color"));  // a POST replaces user metadata
  CHECK(List(n.hash_dir("o")).count(kTs2 + "+0.meta") == 1);  // ctype == meta time

  // A newer tombstone replaces everything.
  resp = n.Run(Session(h + " " + kTs2 + "\r\n", "DELETE /a/c/o\r\nX-Timestamp: " + kTs3 + "\r\n\r\n"));
  CHECK(resp.find(h + " d\r\n") != std::string::npos);
  CHECK(List(n.hash_dir("o")) == std::set<std::string>{kTs3 + ".ts"});
}

TEST_CASE("Receiver: subrequest failures are counted and reported", "[ssync]") {
  Node n;
  // Missing X-Timestamp (400), then an ETag mismatch (422): both fail, nothing lands.
  std::string bad_ts = "PUT /a/c/o1\r\nContent-Length: 3\r\nContent-Type: x\r\n\r\nabc";
  std::string bad_etag = "PUT /a/c/o2\r\nContent-Length: 3\r\nContent-Type: x\r\nETag: 0123\r\n"
                         "X-Timestamp: " + kTs + "\r\n\r\nabc";
  std::string resp = n.Run(Session("", bad_ts + bad_etag + Put("o3", "fine")));
  CHECK(resp.find(":ERROR: 500 b'ERROR: With :UPDATES: 2 failures to 1 successes'\n") !=
        std::string::npos);
  CHECK_FALSE(HasFiles(n.hash_dir("o1")));
  CHECK_FALSE(HasFiles(n.hash_dir("o2")));
  CHECK(HasFiles(n.hash_dir("o3")));  // the good one between them still counts
  CHECK(List(n.dir / "sdb1/tmp").empty());

  // An older PUT than what is there: 409, a failure; a POST for a missing object: 404,
  // a success.
  resp = n.Run(Session("", Put("o3", "old", RecentTs(-500)) +
                               "POST /a/c/nothere\r\nX-Timestamp: " + kTs2 + "\r\n\r\n"));
  CHECK(resp.find("1 failures to 1 successes") != std::string::npos);
}

TEST_CASE("Receiver: malformed input ends the session with an :ERROR: line", "[ssync]") {
  std::string h = HashOf("o");
  struct Case {
    std::string name, body, expect;
  };
  std::vector<Case> cases = {
      {"no start", "hello\r\n", ":ERROR: 0 \"Looking for :MISSING_CHECK: START got b'hello\\\\r\\\\n'\"\n"},
      {"bad hash", ":MISSING_CHECK: START\r\n../../x 1700000000.00000\r\n", ":ERROR: 0 \"invalid object hash '../../x'\""},
      {"bad timestamp", ":MISSING_CHECK: START\r\n" + h + " yesterday\r\n", ":ERROR: 0 \"invalid timestamp 'yesterday'\""},
      {"long line", ":MISSING_CHECK: START\r\n" + std::string(70000, 'a') + "\r\n", ":ERROR: 0 'missing_check line: line longer"},
      {"no updates start", Session("", "").substr(0, 44) + "PUT /a/c/o\r\n", ":ERROR: 0 \"Looking for :UPDATES: START"},
      {"bad content-length", Session("", "PUT /a/c/o\r\nContent-Length: 5x\r\n\r\nhello"), ":ERROR: 0 \"invalid literal for int()"},
      {"negative content-length", Session("", "PUT /a/c/o\r\nContent-Length: -1\r\n\r\n"), ":ERROR: 0 'negative content-length"},
      {"no content-length", Session("", "PUT /a/c/o\r\nX-Timestamp: 1\r\n\r\n"), ":ERROR: 0 'No content-length sent for PUT /a/c/o'"},
      {"body on DELETE", Session("", "DELETE /a/c/o\r\nContent-Length: 1\r\n\r\nx"), ":ERROR: 0 'DELETE subrequest with content-length /a/c/o'"},
      {"bad method", Session("", "GET /a/c/o\r\n\r\n"), ":ERROR: 0 'Invalid subrequest method GET'"},
      {"no space", Session("", "PUT\r\n\r\n"), ":ERROR: 0 \"not enough values to unpack"},
      {"header without colon", Session("", "PUT /a/c/o\r\nContent-Length 5\r\n\r\n"), ":ERROR: 0 \"not enough values"},
      {"eof in headers", ":MISSING_CHECK: START\r\n:MISSING_CHECK: END\r\n:UPDATES: START\r\nPUT /a/c/o\r\nX-Timestamp: 1\r\n", ":ERROR: 0 'Got no headers for PUT /a/c/o'"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Node n;
    std::string resp = n.Run(c.body);
    CHECK(resp.rfind("\r\n", 0) == 0);
    CHECK(resp.find(c.expect) != std::string::npos);
    CHECK(resp.find(":UPDATES: END") == std::string::npos);
    CHECK_FALSE(HasFiles(n.hash_dir("o")));
  }
}

TEST_CASE("Receiver: early end of stream and timeouts leave nothing behind", "[ssync]") {
  Node n;
  std::string full = Session("", Put("o", "0123456789"));
  // Cut inside the PUT body: the writer is dropped, no file and no temp file remain.
  std::string cut = full.substr(0, full.find("0123456789") + 4);
  std::string resp = n.Run(cut);
  CHECK(resp == "\r\n:MISSING_CHECK: START\r\n\r\n:MISSING_CHECK: END\r\n");
  CHECK_FALSE(HasFiles(n.hash_dir("o")));
  CHECK(List(n.dir / "sdb1/tmp").empty());
  // A read that times out mid-body is Swift's 408.
  resp = n.Run(cut, Status::Unavailable("client timeout"));
  CHECK(resp.find(":ERROR: 408 '60 seconds: updates content'\n") != std::string::npos);
  CHECK_FALSE(HasFiles(n.hash_dir("o")));
  resp = n.Run(":MISSING_CHECK: START\r\n", Status::Unavailable("client timeout"));
  CHECK(resp.find(":ERROR: 408 '60 seconds: missing_check line'\n") != std::string::npos);
  // A clean hang-up before anything: no error line (nobody is listening).
  CHECK(n.Run("") == "\r\n");
}

TEST_CASE("Receiver: a held partition lock is Swift's lock timeout", "[ssync]") {
  Node n;
  auto req = n.Request();
  req.replication_lock_timeout = 0.05;
  std::filesystem::create_directories(n.part_dir());
  int fd = open((n.part_dir() + "/.lock-replication").c_str(), O_CREAT | O_WRONLY, 0644);
  REQUIRE(flock(fd, LOCK_EX) == 0);
  SourceStream in(Session("", ""));
  SinkStream out;
  (void)ssync::HandleSsync(req, in, out);
  close(fd);
  CHECK(out.data == "\r\n:ERROR: 0 '0.05 seconds: " + n.part_dir() + "/.lock-replication'\n");
  CHECK(ssync::ValidateSsyncRequest([&] { auto r = n.Request(); r.device = ".."; return r; }())
            .code() == Status::Code::kInvalidArgument);
}

TEST_CASE("Sender and receiver converge over chunked pipes", "[ssync]") {
  Node src, dst;
  auto write = [&](const std::string& obj, diskfile::ObjectFileType type, const std::string& ts,
                   const std::string& body, diskfile::Metadata md) {
    auto w = diskfile::ObjectWriter::Create(src.dir / "sdb1", src.hash_dir(obj)).value();
    Status wrote = w->Write(body);
    INFO(wrote.ToString());
    REQUIRE(wrote.ok());
    md.Set("X-Timestamp", ts);
    md.Set("name", "/a/c/" + obj);
    REQUIRE(w->Put(type, md).ok());
  };
  std::string big(200000, 'z');
  write("big", diskfile::ObjectFileType::kData, kTs, big, {{"Content-Type", "app/x"}});
  write("meta", diskfile::ObjectFileType::kData, kTs, "m", {{"Content-Type", "app/x"}});
  write("meta", diskfile::ObjectFileType::kMeta, kTs2, "",
        {{"X-Object-Meta-K", "v"}, {"Content-Type", "text/new"}, {"Content-Type-Timestamp", kTs2}});
  write("gone", diskfile::ObjectFileType::kTombstone, kTs, "", {});

  replicant::sync::SyncJob job;
  job.device = "sdb1";
  job.partition = "7";
  job.path = src.part_dir();
  job.obj_path = src.dir / "sdb1/objects";
  std::vector<std::string> suffixes = diskfile::ListSuffixes(src.part_dir());
  PipeStream up, down;
  std::thread receiver([&] {
    net::ChunkedReader body(up);
    net::ChunkedWriter resp(down);
    (void)ssync::HandleSsync(dst.Request(), body, resp);
    (void)resp.Finish();
    down.Close();
  });
  net::ChunkedWriter req(up);
  net::ChunkedReader resp(down);
  ssync::SsyncSender sender({}, job, suffixes);
  auto done = sender.Run(req, resp);
  (void)req.Finish();
  up.Close();
  receiver.join();
  REQUIRE(done.ok());
  CHECK(done->size() == 3);
  CHECK(done->at(HashOf("gone")) == kTs);
  CHECK(sender.stats().puts == 2);
  CHECK(sender.stats().posts == 1);
  CHECK(sender.stats().deletes == 1);
  for (const char* obj : {"big", "meta", "gone"}) {
    CHECK(List(dst.hash_dir(obj)) == List(src.hash_dir(obj)));
  }
  auto got = diskfile::OpenObject(dst.hash_dir("meta")).value();
  CHECK(got.metadata.GetOr("Content-Type", "") == "text/new");
  CHECK(got.metadata.GetOr("X-Object-Meta-K", "") == "v");
  CHECK(diskfile::OpenObject(dst.hash_dir("big")).value().content_length == big.size());

  // Handoff cleanup removes exactly the confirmed objects, then the empty partition.
  auto snap = diskfile::ListHandoffObjects(src.part_dir(), {HashOf("big").substr(29),
                                                         HashOf("gone").substr(29),
                                                         HashOf("meta").substr(29)});
  REQUIRE(snap.ok());
  diskfile::ConfirmedObjects two{{HashOf("big"), done->at(HashOf("big"))},
                               {HashOf("gone"), done->at(HashOf("gone"))}};
  auto c = diskfile::RemoveHandoffFiles(src.part_dir(), *snap, &two);
  CHECK(c.removed == 2);
  CHECK_FALSE(c.partition_removed);
  CHECK(HasFiles(src.hash_dir("meta")));
  // Confirmed only up to its .data: the newer .meta stays, and so does the object.
  diskfile::ConfirmedObjects old_meta{{HashOf("meta"), kTs}};
  c = diskfile::RemoveHandoffFiles(src.part_dir(), *snap, &old_meta);
  CHECK_FALSE(c.partition_removed);
  CHECK(HasFiles(src.hash_dir("meta")));
  diskfile::ConfirmedObjects meta{{HashOf("meta"), done->at(HashOf("meta"))}};
  c = diskfile::RemoveHandoffFiles(src.part_dir(), *snap, &meta);
  CHECK(c.partition_removed);
  CHECK_FALSE(replicant::testing::Exists(src.part_dir()));
}

TEST_CASE("Sender with remote_check_objs offers only those objects and sends nothing",
          "[ssync]") {
  Node src, dst;
  auto write = [](Node& n, const std::string& obj, const std::string& ts) {
    auto w = diskfile::ObjectWriter::Create(n.dir / "sdb1", n.hash_dir(obj)).value();
    REQUIRE(w->Write("body").ok());
    diskfile::Metadata md{{"Content-Type", "app/x"}};
    md.Set("X-Timestamp", ts);
    md.Set("name", "/a/c/" + obj);
    REQUIRE(w->Put(diskfile::ObjectFileType::kData, md).ok());
  };
  for (const char* obj : {"held", "lacking", "older", "unchecked"}) write(src, obj, kTs2);
  write(dst, "held", kTs2);
  write(dst, "older", kTs);  // an older version is not in sync

  replicant::sync::SyncJob job;
  job.device = "sdb1";
  job.partition = "7";
  job.path = src.part_dir();
  job.obj_path = src.dir / "sdb1/objects";
  PipeStream up, down;
  std::thread receiver([&] {
    net::ChunkedReader body(up);
    net::ChunkedWriter resp(down);
    (void)ssync::HandleSsync(dst.Request(), body, resp);
    (void)resp.Finish();
    down.Close();
  });
  net::ChunkedWriter req(up);
  net::ChunkedReader resp(down);
  std::set<std::string> check{HashOf("held"), HashOf("lacking"), HashOf("older")};
  ssync::SsyncSender sender({}, job, diskfile::ListSuffixes(src.part_dir()), &check);
  auto done = sender.Run(req, resp);
  (void)req.Finish();  // Swift's sender hangs up after the missing check, too
  up.Close();
  receiver.join();
  REQUIRE(done.ok());
  // In sync: only what the receiver did not want, of the objects asked about.
  CHECK(done->size() == 1);
  CHECK(done->count(HashOf("held")) == 1);
  CHECK(sender.stats().offered == 3);
  CHECK(sender.stats().wanted == 2);
  CHECK(sender.stats().puts + sender.stats().posts + sender.stats().deletes == 0);
  CHECK_FALSE(replicant::testing::Exists(dst.hash_dir("lacking")));
  CHECK_FALSE(replicant::testing::Exists(dst.hash_dir("unchecked")));
  CHECK(diskfile::OpenObject(dst.hash_dir("older")).value().timestamp.internal() == kTs);
}
