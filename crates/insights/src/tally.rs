//! `recordsMatched`: a pass-through plan node that counts the rows reaching
//! the end of a query's record stage (its first `stats`, `pattern`, `dedup`
//! or `limit`, or its end).
//!
//! It is a plan node rather than an expression so that DataFusion's
//! optimiser can neither merge it into a neighbouring filter (which would
//! count rows before that filter) nor prune it away; it does let column
//! pruning pass through.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchemaRef, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use futures_util::StreamExt;

/// The logical node.
#[derive(Debug, Clone)]
pub struct TallyNode {
    input: LogicalPlan,
    counter: Arc<AtomicU64>,
}

impl PartialEq for TallyNode {
    fn eq(&self, other: &Self) -> bool {
        self.input == other.input && Arc::ptr_eq(&self.counter, &other.counter)
    }
}
impl Eq for TallyNode {}
impl std::hash::Hash for TallyNode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.input.hash(state);
        (Arc::as_ptr(&self.counter) as usize).hash(state);
    }
}
impl PartialOrd for TallyNode {
    fn partial_cmp(&self, _other: &Self) -> Option<std::cmp::Ordering> {
        None
    }
}

impl TallyNode {
    /// Wraps `input`, counting into `counter`.
    pub fn plan(input: LogicalPlan, counter: Arc<AtomicU64>) -> LogicalPlan {
        LogicalPlan::Extension(Extension {
            node: Arc::new(TallyNode { input, counter }),
        })
    }
}

impl UserDefinedLogicalNodeCore for TallyNode {
    fn name(&self) -> &str {
        "Tally"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Tally")
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        Ok(TallyNode {
            input: inputs.swap_remove(0),
            counter: Arc::clone(&self.counter),
        })
    }

    fn necessary_children_exprs(&self, output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        Some(vec![output_columns.to_vec()])
    }
}

/// The physical node.
#[derive(Debug)]
struct TallyExec {
    input: Arc<dyn ExecutionPlan>,
    counter: Arc<AtomicU64>,
}

impl DisplayAs for TallyExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "TallyExec")
    }
}

impl ExecutionPlan for TallyExec {
    fn name(&self) -> &str {
        "TallyExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(TallyExec {
            input: children.swap_remove(0),
            counter: Arc::clone(&self.counter),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let counter = Arc::clone(&self.counter);
        let stream = input.map(move |batch| {
            if let Ok(b) = &batch {
                counter.fetch_add(b.num_rows() as u64, Ordering::Relaxed);
            }
            batch
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

struct TallyPlanner;

#[async_trait]
impl ExtensionPlanner for TallyPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(t) = node.as_any().downcast_ref::<TallyNode>() else {
            return Ok(None);
        };
        Ok(Some(Arc::new(TallyExec {
            input: Arc::clone(&physical_inputs[0]),
            counter: Arc::clone(&t.counter),
        })))
    }
}

/// A query planner that knows [`TallyNode`].
#[derive(Debug)]
pub struct InsightsQueryPlanner;

#[async_trait]
impl QueryPlanner for InsightsQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(TallyPlanner)])
            .create_physical_plan(logical_plan, session_state)
            .await
    }
}
