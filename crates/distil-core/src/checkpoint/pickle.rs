//! A pickle reader that understands only what `torch.save` writes for a state dict and never
//! runs anything: the opcodes for plain values, tuples, lists and dicts, persistent ids for
//! storages, and calls to an allow-list of globals (`collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, `torch.*Storage`),
//! each interpreted here as a data record. Any other global or opcode is refused.

use std::collections::HashMap;

use tch::Kind;

use super::dtype::kind_of_storage_class;

/// A global the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Global {
    OrderedDict,
    RebuildTensorV2,
    RebuildParameter,
    Storage(Kind),
}

/// A storage of the archive, as a persistent id names it: the entry `data/<key>` holding
/// `numel` elements of `kind`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StorageRef {
    pub key: String,
    pub kind: Kind,
    pub numel: i64,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TensorRecord {
    pub storage: StorageRef,
    pub offset: i64,
    pub size: Vec<i64>,
    pub stride: Vec<i64>,
}

/// A value on the pickle stack. Lists and dicts live in arenas so that a memoised container
/// that is filled later is seen filled wherever it is referenced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    List(usize),
    Dict(usize),
    Global(Global),
    Storage(StorageRef),
    Tensor(TensorRecord),
}

/// The result of reading a pickle: the root value and the containers it refers to.
#[derive(Debug)]
pub(crate) struct Unpickled {
    pub root: Value,
    dicts: Vec<Vec<(Value, Value)>>,
}

impl Unpickled {
    /// The entries of the dict `id`, in insertion order.
    pub fn dict(&self, id: usize) -> &[(Value, Value)] {
        self.dicts.get(id).map_or(&[], Vec::as_slice)
    }
}

/// Why a pickle was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PickleError {
    /// The pickle asks for something outside the allow-list.
    #[error("pickle byte {offset}: {reason}")]
    Refused { offset: usize, reason: String },
    /// The pickle is cut short or inconsistent.
    #[error("pickle byte {offset}: {reason}")]
    Malformed { offset: usize, reason: String },
}

/// Reads a `torch.save` pickle into values without executing anything.
pub(crate) fn unpickle(data: &[u8]) -> Result<Unpickled, PickleError> {
    Machine {
        data,
        pos: 0,
        op_start: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        lists: Vec::new(),
        dicts: Vec::new(),
    }
    .run()
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    op_start: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    lists: Vec<Vec<Value>>,
    dicts: Vec<Vec<(Value, Value)>>,
}

impl Machine<'_> {
    fn malformed(&self, reason: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            offset: self.op_start,
            reason: reason.into(),
        }
    }

    fn refused(&self, reason: impl Into<String>) -> PickleError {
        PickleError::Refused {
            offset: self.op_start,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| self.malformed("the pickle ends in the middle of an opcode"))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.malformed("unterminated GLOBAL name"))?;
        let text = self.utf8(len)?;
        self.pos += 1;
        Ok(text)
    }

    fn utf8(&mut self, len: usize) -> Result<String, PickleError> {
        let bytes = self.take(len)?.to_vec();
        String::from_utf8(bytes).map_err(|_| self.malformed("a string is not valid UTF-8"))
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("the stack is empty"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed("no MARK on the stack"))?;
        if mark > self.stack.len() {
            return Err(self.malformed("MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn top_dict(&mut self) -> Result<usize, PickleError> {
        match self.stack.last() {
            Some(Value::Dict(id)) => Ok(*id),
            _ => Err(self.malformed("SETITEM(S) or BUILD on something that is not a dict")),
        }
    }

    fn memo_put(&mut self, index: u32) -> Result<(), PickleError> {
        let top = self
            .stack
            .last()
            .cloned()
            .ok_or_else(|| self.malformed("memoising an empty stack"))?;
        self.memo.insert(index, top);
        Ok(())
    }

    fn memo_get(&mut self, index: u32) -> Result<(), PickleError> {
        let value = self
            .memo
            .get(&index)
            .cloned()
            .ok_or_else(|| self.malformed(format!("memo entry {index} was never stored")))?;
        self.stack.push(value);
        Ok(())
    }

    fn run(mut self) -> Result<Unpickled, PickleError> {
        loop {
            self.op_start = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let protocol = self.u8()?;
                    if protocol > 5 {
                        return Err(self.malformed(format!("unknown protocol {protocol}")));
                    }
                }
                0x95 => {
                    self.u64()?; // FRAME: a length hint only
                }
                b'.' => {
                    let root = self.pop()?;
                    return Ok(Unpickled {
                        root,
                        dicts: self.dicts,
                    });
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.pop()?;
                    self.stack.push(top.clone());
                    self.stack.push(top);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.array()?);
                    self.stack.push(Value::Int(v.into()));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.array()?);
                    self.stack.push(Value::Int(v.into()));
                }
                0x8a => {
                    let v = self.long1()?;
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?);
                    self.stack.push(Value::Float(v));
                }
                b'X' => {
                    let len = self.u32()? as usize;
                    let s = self.utf8(len)?;
                    self.stack.push(Value::Str(s));
                }
                0x8c => {
                    let len = self.u8()? as usize;
                    let s = self.utf8(len)?;
                    self.stack.push(Value::Str(s));
                }
                0x8d => {
                    let len = usize::try_from(self.u64()?)
                        .map_err(|_| self.malformed("string length overflows"))?;
                    let s = self.utf8(len)?;
                    self.stack.push(Value::Str(s));
                }
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(self.malformed("TUPLEn with too few items"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items));
                }
                b']' => {
                    self.lists.push(Vec::new());
                    self.stack.push(Value::List(self.lists.len() - 1));
                }
                b'a' | b'e' => {
                    let items = if op == b'a' {
                        vec![self.pop()?]
                    } else {
                        self.pop_mark()?
                    };
                    match self.stack.last() {
                        Some(Value::List(id)) => self.lists[*id].extend(items),
                        _ => return Err(self.malformed("APPEND(S) on something not a list")),
                    }
                }
                b'}' => {
                    self.dicts.push(Vec::new());
                    self.stack.push(Value::Dict(self.dicts.len() - 1));
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let id = self.top_dict()?;
                    self.dicts[id].push((key, value));
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(self.malformed("SETITEMS with an odd number of items"));
                    }
                    let id = self.top_dict()?;
                    let mut items = items.into_iter();
                    while let (Some(key), Some(value)) = (items.next(), items.next()) {
                        self.dicts[id].push((key, value));
                    }
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let global = self.global(&module, &name)?;
                    self.stack.push(Value::Global(global));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(self.malformed("STACK_GLOBAL without two strings"));
                    };
                    let global = self.global(&module, &name)?;
                    self.stack.push(Value::Global(global));
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let result = self.call(callable, args)?;
                    self.stack.push(result);
                }
                b'b' => {
                    // The state a state dict carries is its `_metadata` (module versions),
                    // which loading weights does not need.
                    self.pop()?;
                    self.top_dict()?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let storage = self.storage(pid)?;
                    self.stack.push(Value::Storage(storage));
                }
                b'q' | b'r' | 0x94 => {
                    let index = match op {
                        b'q' => self.u8()?.into(),
                        b'r' => self.u32()?,
                        _ => u32::try_from(self.memo.len())
                            .map_err(|_| self.malformed("memo overflow"))?,
                    };
                    self.memo_put(index)?;
                }
                b'h' | b'j' => {
                    let index = if op == b'h' {
                        self.u8()?.into()
                    } else {
                        self.u32()?
                    };
                    self.memo_get(index)?;
                }
                other => {
                    return Err(self.refused(format!(
                        "pickle opcode 0x{other:02x} is not one torch.save writes for weights"
                    )))
                }
            }
        }
    }

    fn long1(&mut self) -> Result<i64, PickleError> {
        let n = usize::from(self.u8()?);
        if n > 8 {
            return Err(self.malformed("an integer wider than 64 bits"));
        }
        let bytes = self.take(n)?;
        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
        let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
        buf[..n].copy_from_slice(bytes);
        Ok(i64::from_le_bytes(buf))
    }

    fn global(&self, module: &str, name: &str) -> Result<Global, PickleError> {
        let global = match (module, name) {
            ("collections", "OrderedDict") => Some(Global::OrderedDict),
            ("torch._utils", "_rebuild_tensor_v2") => Some(Global::RebuildTensorV2),
            ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
            ("torch", class) => kind_of_storage_class(class).map(Global::Storage),
            _ => None,
        };
        global.ok_or_else(|| {
            self.refused(format!(
                "the pickle imports `{module}.{name}`, which is not part of a tensor record"
            ))
        })
    }

    fn call(&mut self, callable: Value, args: Value) -> Result<Value, PickleError> {
        let Value::Tuple(args) = args else {
            return Err(self.malformed("REDUCE arguments are not a tuple"));
        };
        match (callable, args.as_slice()) {
            (Value::Global(Global::OrderedDict), []) => {
                self.dicts.push(Vec::new());
                Ok(Value::Dict(self.dicts.len() - 1))
            }
            (
                Value::Global(Global::RebuildTensorV2),
                [storage, offset, size, stride, _, hooks, ..],
            ) => {
                self.check_no_hooks(hooks)?;
                match (storage, offset) {
                    (Value::Storage(storage), Value::Int(offset)) => {
                        Ok(Value::Tensor(TensorRecord {
                            storage: storage.clone(),
                            offset: *offset,
                            size: self.ints(size)?,
                            stride: self.ints(stride)?,
                        }))
                    }
                    _ => Err(self.malformed("_rebuild_tensor_v2 without a storage and offset")),
                }
            }
            (Value::Global(Global::RebuildParameter), [Value::Tensor(t), _, hooks]) => {
                self.check_no_hooks(hooks)?;
                Ok(Value::Tensor(t.clone()))
            }
            (Value::Global(global), _) => Err(self.refused(format!(
                "a call to {global:?} with arguments torch.save does not write"
            ))),
            _ => Err(self.malformed("REDUCE on something that is not a global")),
        }
    }

    /// Backward hooks would be code; a saved state dict has none (an empty OrderedDict).
    fn check_no_hooks(&self, hooks: &Value) -> Result<(), PickleError> {
        match hooks {
            Value::Dict(id) if self.dicts[*id].is_empty() => Ok(()),
            Value::None => Ok(()),
            _ => Err(self.refused("a tensor with backward hooks")),
        }
    }

    fn ints(&self, value: &Value) -> Result<Vec<i64>, PickleError> {
        let Value::Tuple(items) = value else {
            return Err(self.malformed("a tensor size or stride is not a tuple"));
        };
        items
            .iter()
            .map(|v| match v {
                Value::Int(i) => Ok(*i),
                _ => Err(self.malformed("a tensor size or stride holds a non-integer")),
            })
            .collect()
    }

    fn storage(&self, pid: Value) -> Result<StorageRef, PickleError> {
        match pid {
            Value::Tuple(items) => match items.as_slice() {
                [Value::Str(tag), Value::Global(Global::Storage(kind)), Value::Str(key), Value::Str(_location), Value::Int(numel)]
                    if tag == "storage" =>
                {
                    Ok(StorageRef {
                        key: key.clone(),
                        kind: *kind,
                        numel: *numel,
                    })
                }
                _ => Err(self.refused("a persistent id that is not a typed storage")),
            },
            _ => Err(self.refused("a persistent id that is not a tuple")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memoised_dict_filled_later_is_seen_filled_and_negative_longs_decode() {
        // {} memoised as 0, then {'a': -1} filled in, then (memo[0], memo[0]).
        let pickle = b"\x80\x02}q\x00(X\x01\x00\x00\x00a\x8a\x01\xffuh\x00\x86.";
        let unpickled = unpickle(pickle).unwrap();
        let Value::Tuple(items) = &unpickled.root else {
            panic!("root is {:?}", unpickled.root);
        };
        assert_eq!(items, &[Value::Dict(0), Value::Dict(0)]);
        assert_eq!(
            unpickled.dict(0),
            &[(Value::Str("a".into()), Value::Int(-1))]
        );
    }

    #[test]
    fn opcodes_outside_the_subset_are_refused() {
        // INST (`i`) would build an arbitrary object.
        let err = unpickle(b"\x80\x02(ibuiltins\nobject\n.").unwrap_err();
        assert!(
            matches!(err, PickleError::Refused { offset: 3, .. }),
            "{err}"
        );
    }
}
