//! Aggregations DataFusion has no equivalent for, as UDAFs.
//!
//! `count`, `count_distinct`, `sum`, `avg`, `stddev` and `min`/`max` over
//! numbers and timestamps use DataFusion's own aggregates. These cover the
//! rest:
//! - `min`/`max` over text: the smallest/largest numeric-looking value when
//!   there is one (so a `"-"` placeholder does not win), otherwise natural
//!   sort order;
//! - `pct(f, p)`: exact nearest rank, the `ceil(p/100 × n)`-th smallest
//!   numeric value (p = 0 → the minimum);
//! - `earliest`/`latest`: the value from the event with the smallest/largest
//!   `@timestamp` (first seen wins a tie);
//! - `sortsFirst`/`sortsLast`: the value first/last in natural sort order.
//!
//! Partial states travel between partitions as one binary column.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use serde::{Deserialize, Serialize};

use crate::func::Col;
use crate::value::{format_num, natural_key, Val};

/// Which aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggKind {
    /// `min` over text.
    Min,
    /// `max` over text.
    Max,
    /// `pct(f, p)`, p in thousandths.
    Pct(i64),
    /// `earliest(f)`; second argument the timestamp.
    Earliest,
    /// `latest(f)`.
    Latest,
    /// `sortsFirst(f)`.
    SortsFirst,
    /// `sortsLast(f)`.
    SortsLast,
}

/// The UDAF.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Agg {
    kind: AggKind,
    name: String,
    signature: Signature,
}

impl Agg {
    /// The UDAF for `kind`.
    pub fn udaf(kind: AggKind) -> AggregateUDF {
        let name = match kind {
            AggKind::Pct(p) => format!("iq_pct_{p}"),
            other => format!("iq_{}", format!("{other:?}").to_ascii_lowercase()),
        };
        AggregateUDF::new_from_impl(Agg {
            kind,
            name,
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }
}

impl AggregateUDFImpl for Agg {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            AggKind::Pct(_) => DataType::Float64,
            _ => DataType::Utf8,
        })
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Acc {
            kind: self.kind,
            state: State::default(),
        }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        matches!(self.kind, AggKind::Pct(_))
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let AggKind::Pct(p) = self.kind else {
            return Err(datafusion::common::DataFusionError::Internal(
                "no groups accumulator".into(),
            ));
        };
        Ok(Box::new(PctGroups {
            p,
            values: Vec::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}_state", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct State {
    /// Best numeric value (min/max).
    num: Option<f64>,
    /// Best text and its sort key or time.
    text: Option<String>,
    key: Option<Vec<u8>>,
    time: Option<i64>,
    /// Collected values (pct).
    values: Vec<f64>,
}

#[derive(Debug)]
struct Acc {
    kind: AggKind,
    state: State,
}

impl Acc {
    fn offer(&mut self, v: Val<'_>, ts: Option<i64>) {
        if v.is_null() {
            return;
        }
        let s = &mut self.state;
        match self.kind {
            AggKind::Min | AggKind::Max => {
                if let Some(n) = v.num() {
                    let better = match s.num {
                        None => true,
                        Some(cur) => {
                            (self.kind == AggKind::Min && n < cur)
                                || (self.kind == AggKind::Max && n > cur)
                        }
                    };
                    if better {
                        s.num = Some(n);
                    }
                } else {
                    self.offer_sorted(v);
                }
            }
            AggKind::SortsFirst | AggKind::SortsLast => self.offer_sorted(v),
            AggKind::Pct(_) => {
                if let Some(n) = v.num() {
                    s.values.push(n);
                }
            }
            AggKind::Earliest | AggKind::Latest => {
                let Some(t) = ts else { return };
                let better = match s.time {
                    None => true,
                    Some(cur) => {
                        (self.kind == AggKind::Earliest && t < cur)
                            || (self.kind == AggKind::Latest && t > cur)
                    }
                };
                if better {
                    s.time = Some(t);
                    s.text = v.text().map(|t| t.into_owned());
                }
            }
        }
    }

    fn offer_sorted(&mut self, v: Val<'_>) {
        let mut key = Vec::new();
        natural_key(&v, &mut key);
        let first = matches!(self.kind, AggKind::Min | AggKind::SortsFirst);
        let better = match &self.state.key {
            None => true,
            Some(cur) => (first && key < *cur) || (!first && key > *cur),
        };
        if better {
            self.state.key = Some(key);
            self.state.text = v.text().map(|t| t.into_owned());
        }
    }

    fn merge(&mut self, other: State) {
        match self.kind {
            AggKind::Pct(_) => self.state.values.extend(other.values),
            AggKind::Earliest | AggKind::Latest => {
                if let (Some(t), Some(text)) = (other.time, other.text.as_deref()) {
                    self.offer(Val::Str(text), Some(t));
                }
            }
            _ => {
                if let Some(n) = other.num {
                    self.offer(Val::Num(n), None);
                }
                if let Some(text) = other.text.as_deref() {
                    self.offer_sorted(Val::Str(text));
                }
            }
        }
    }
}

impl Accumulator for Acc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let col = Col::from_array(&values[0])?;
        let times = values.get(1).map(Col::from_array).transpose()?;
        for i in 0..values[0].len() {
            let ts = times.as_ref().and_then(|t| match t.get(i) {
                Val::Time(t) => Some(t),
                other => other.num().map(|n| n as i64),
            });
            self.offer(col.get(i), ts);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let s = &mut self.state;
        Ok(match self.kind {
            AggKind::Pct(p) => ScalarValue::Float64(nearest_rank(&mut s.values, p)),
            AggKind::Min | AggKind::Max => match s.num {
                Some(n) => ScalarValue::Utf8(Some(format_num(n))),
                None => ScalarValue::Utf8(s.text.clone()),
            },
            _ => ScalarValue::Utf8(s.text.clone()),
        })
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.state.values.capacity() * 8
            + self.state.text.as_ref().map_or(0, String::capacity)
            + self.state.key.as_ref().map_or(0, Vec::capacity)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        // Percentile states are the raw values (little-endian f64s); the
        // others are small JSON objects.
        let bytes = match self.kind {
            AggKind::Pct(_) => {
                let mut b = Vec::with_capacity(self.state.values.len() * 8);
                for v in &self.state.values {
                    b.extend_from_slice(&v.to_le_bytes());
                }
                b
            }
            _ => serde_json::to_vec(&self.state)
                .map_err(|e| datafusion::common::DataFusionError::Execution(e.to_string()))?,
        };
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let arr = states[0].as_binary::<i32>();
        for i in 0..arr.len() {
            if arr.is_null(i) {
                continue;
            }
            let bytes = arr.value(i);
            if let AggKind::Pct(_) = self.kind {
                self.state.values.extend(
                    bytes
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
                );
            } else if let Ok(other) = serde_json::from_slice::<State>(bytes) {
                self.merge(other);
            }
        }
        Ok(())
    }
}

/// Nearest-rank percentile of a sorted list (p in thousandths of a percent).
fn nearest_rank(values: &mut [f64], p: i64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let rank = ((p as f64 / 1000.0) / 100.0 * n as f64).ceil() as usize;
    Some(values[rank.clamp(1, n) - 1])
}

/// `pct` for many groups at once (no per-group accumulator objects).
struct PctGroups {
    p: i64,
    values: Vec<Vec<f64>>,
}

impl GroupsAccumulator for PctGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&arrow_array::BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.values.resize_with(total_num_groups, Vec::new);
        let col = Col::from_array(&values[0])?;
        for (row, &g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            if let Some(n) = col.get(row).num() {
                self.values[g].push(n);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.values);
        let out: arrow_array::Float64Array = groups
            .into_iter()
            .map(|mut v| nearest_rank(&mut v, self.p))
            .collect();
        Ok(std::sync::Arc::new(out))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = emit_to.take_needed(&mut self.values);
        let mut b = arrow_array::builder::BinaryBuilder::new();
        for v in groups {
            let mut bytes = Vec::with_capacity(v.len() * 8);
            for x in v {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            b.append_value(bytes);
        }
        Ok(vec![std::sync::Arc::new(b.finish())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.values.resize_with(total_num_groups, Vec::new);
        let arr = values[0].as_binary::<i32>();
        for (row, &g) in group_indices.iter().enumerate() {
            if arr.is_null(row) {
                continue;
            }
            self.values[g].extend(
                arr.value(row)
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
            );
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&arrow_array::BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row as its own group's state: its value's bytes, or none.
        let col = Col::from_array(&values[0])?;
        let mut b = arrow_array::builder::BinaryBuilder::new();
        for row in 0..values[0].len() {
            let kept = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            match col.get(row).num().filter(|_| kept) {
                Some(n) => b.append_value(n.to_le_bytes()),
                None => b.append_value([]),
            }
        }
        Ok(vec![std::sync::Arc::new(b.finish())])
    }

    fn size(&self) -> usize {
        self.values
            .iter()
            .map(|v| v.capacity() * 8 + 24)
            .sum::<usize>()
            + 48
    }
}
