// pickle opcodes (Python's Lib/pickle.py names) and their names for error messages.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace replicant::pickle {

namespace op {
enum : uint8_t {
  kMark = 0x28,  // '('
  kEmptyTuple = 0x29,  // ')'
  kStop = 0x2e,  // '.'
  kPop = 0x30,  // '0'
  kPopMark = 0x31,  // '1'
  kDup = 0x32,  // '2'
  kBinbytes = 0x42,  // 'B'
  kShortBinbytes = 0x43,  // 'C'
  kFloat = 0x46,  // 'F'
  kBinfloat = 0x47,  // 'G'
  kInt = 0x49,  // 'I'
  kBinint = 0x4a,  // 'J'
  kBinint1 = 0x4b,  // 'K'
  kLong = 0x4c,  // 'L'
  kBinint2 = 0x4d,  // 'M'
  kNone = 0x4e,  // 'N'
  kPersid = 0x50,  // 'P'
  kBinpersid = 0x51,  // 'Q'
  kReduce = 0x52,  // 'R'
  kString = 0x53,  // 'S'
  kBinstring = 0x54,  // 'T'
  kShortBinstring = 0x55,  // 'U'
  kUnicode = 0x56,  // 'V'
  kBinunicode = 0x58,  // 'X'
  kEmptyList = 0x5d,  // ']'
  kAppend = 0x61,  // 'a'
  kBuild = 0x62,  // 'b'
  kGlobal = 0x63,  // 'c'
  kDict = 0x64,  // 'd'
  kAppends = 0x65,  // 'e'
  kGet = 0x67,  // 'g'
  kBinget = 0x68,  // 'h'
  kInst = 0x69,  // 'i'
  kLongBinget = 0x6a,  // 'j'
  kList = 0x6c,  // 'l'
  kObj = 0x6f,  // 'o'
  kPut = 0x70,  // 'p'
  kBinput = 0x71,  // 'q'
  kLongBinput = 0x72,  // 'r'
  kSetitem = 0x73,  // 's'
  kTuple = 0x74,  // 't'
  kSetitems = 0x75,  // 'u'
  kEmptyDict = 0x7d,  // '}'
  kProto = 0x80,
  kNewobj = 0x81,
  kExt1 = 0x82,
  kExt2 = 0x83,
  kExt4 = 0x84,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewtrue = 0x88,
  kNewfalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinunicode = 0x8c,
  kBinunicode8 = 0x8d,
  kBinbytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAdditems = 0x90,
  kFrozenset = 0x91,
  kNewobjEx = 0x92,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
  kBytearray8 = 0x96,
  kNextBuffer = 0x97,
  kReadonlyBuffer = 0x98,
};
}  // namespace op

// "NAME 'c'", "NAME 0xNN", or "unknown 0xNN", for error messages.
inline std::string OpcodeName(uint8_t code) {
  const char* name = nullptr;
  switch (code) {
    case op::kMark: name = "MARK"; break;
    case op::kEmptyTuple: name = "EMPTY_TUPLE"; break;
    case op::kStop: name = "STOP"; break;
    case op::kPop: name = "POP"; break;
    case op::kPopMark: name = "POP_MARK"; break;
    case op::kDup: name = "DUP"; break;
    case op::kBinbytes: name = "BINBYTES"; break;
    case op::kShortBinbytes: name = "SHORT_BINBYTES"; break;
    case op::kFloat: name = "FLOAT"; break;
    case op::kBinfloat: name = "BINFLOAT"; break;
    case op::kInt: name = "INT"; break;
    case op::kBinint: name = "BININT"; break;
    case op::kBinint1: name = "BININT1"; break;
    case op::kLong: name = "LONG"; break;
    case op::kBinint2: name = "BININT2"; break;
    case op::kNone: name = "NONE"; break;
    case op::kPersid: name = "PERSID"; break;
    case op::kBinpersid: name = "BINPERSID"; break;
    case op::kReduce: name = "REDUCE"; break;
    case op::kString: name = "STRING"; break;
    case op::kBinstring: name = "BINSTRING"; break;
    case op::kShortBinstring: name = "SHORT_BINSTRING"; break;
    case op::kUnicode: name = "UNICODE"; break;
    case op::kBinunicode: name = "BINUNICODE"; break;
    case op::kEmptyList: name = "EMPTY_LIST"; break;
    case op::kAppend: name = "APPEND"; break;
    case op::kBuild: name = "BUILD"; break;
    case op::kGlobal: name = "GLOBAL"; break;
    case op::kDict: name = "DICT"; break;
    case op::kAppends: name = "APPENDS"; break;
    case op::kGet: name = "GET"; break;
    case op::kBinget: name = "BINGET"; break;
    case op::kInst: name = "INST"; break;
    case op::kLongBinget: name = "LONG_BINGET"; break;
    case op::kList: name = "LIST"; break;
    case op::kObj: name = "OBJ"; break;
    case op::kPut: name = "PUT"; break;
    case op::kBinput: name = "BINPUT"; break;
    case op::kLongBinput: name = "LONG_BINPUT"; break;
    case op::kSetitem: name = "SETITEM"; break;
    case op::kTuple: name = "TUPLE"; break;
    case op::kSetitems: name = "SETITEMS"; break;
    case op::kEmptyDict: name = "EMPTY_DICT"; break;
    case op::kProto: name = "PROTO"; break;
    case op::kNewobj: name = "NEWOBJ"; break;
    case op::kExt1: name = "EXT1"; break;
    case op::kExt2: name = "EXT2"; break;
    case op::kExt4: name = "EXT4"; break;
    case op::kTuple1: name = "TUPLE1"; break;
    case op::kTuple2: name = "TUPLE2"; break;
    case op::kTuple3: name = "TUPLE3"; break;
    case op::kNewtrue: name = "NEWTRUE"; break;
    case op::kNewfalse: name = "NEWFALSE"; break;
    case op::kLong1: name = "LONG1"; break;
    case op::kLong4: name = "LONG4"; break;
    case op::kShortBinunicode: name = "SHORT_BINUNICODE"; break;
    case op::kBinunicode8: name = "BINUNICODE8"; break;
    case op::kBinbytes8: name = "BINBYTES8"; break;
    case op::kEmptySet: name = "EMPTY_SET"; break;
    case op::kAdditems: name = "ADDITEMS"; break;
    case op::kFrozenset: name = "FROZENSET"; break;
    case op::kNewobjEx: name = "NEWOBJ_EX"; break;
    case op::kStackGlobal: name = "STACK_GLOBAL"; break;
    case op::kMemoize: name = "MEMOIZE"; break;
    case op::kFrame: name = "FRAME"; break;
    case op::kBytearray8: name = "BYTEARRAY8"; break;
    case op::kNextBuffer: name = "NEXT_BUFFER"; break;
    case op::kReadonlyBuffer: name = "READONLY_BUFFER"; break;
    default: break;
  }
  char buf[48];
  if (name == nullptr) {
    std::snprintf(buf, sizeof(buf), "unknown 0x%02x", code);
  } else if (code >= 0x20 && code < 0x7f) {
    std::snprintf(buf, sizeof(buf), "%s '%c'", name, code);
  } else {
    std::snprintf(buf, sizeof(buf), "%s 0x%02x", name, code);
  }
  return buf;
}

}  // namespace replicant::pickle
