//! Names for the indices that say which graph node or plan step a number is.
//!
//! Newtypes over `usize`, so a plan step can never be handed where a graph node is meant (both
//! were bare `usize` once). The hot loops of selection, staleness and planning keep their
//! `FixedBitSet`s and per-node tables; they cross to `usize` only at the table, through
//! [`NodeIx::index`] and [`NodeIx::new`]. A table that is only ever indexed by one kind of
//! index is an [`IxVec`], which takes that index and no other.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// An index into a table of its own: a newtype over `usize` that an [`IxVec`] is indexed by.
pub trait Idx: Copy {
    /// The index at `position` in its table.
    fn new(position: usize) -> Self;
    /// The position in its table.
    fn index(self) -> usize;
}

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
        #[repr(transparent)]
        pub struct $name(usize);

        impl $name {
            /// The index at `position` in its table.
            #[inline]
            pub const fn new(position: usize) -> Self {
                Self(position)
            }

            /// The position in its table.
            #[inline]
            pub const fn index(self) -> usize {
                self.0
            }
        }

        impl Idx for $name {
            #[inline]
            fn new(position: usize) -> Self {
                Self(position)
            }

            #[inline]
            fn index(self) -> usize {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

index_type! {
    /// A node of the [`AssetGraph`](crate::graph::AssetGraph): an asset's position in its tables.
    NodeIx
}

index_type! {
    /// A step of a [`Plan`](crate::plan::Plan): its position in `Plan::steps`.
    StepIx
}

/// A `Vec<T>` indexed by `I` (a [`NodeIx`] or a [`StepIx`]) instead of `usize`: one entry per
/// node or step, which no other kind of index can reach.
pub struct IxVec<I, T> {
    raw: Vec<T>,
    _ix: PhantomData<fn(I)>,
}

impl<I: Idx, T> IxVec<I, T> {
    /// An empty table.
    #[inline]
    pub const fn new() -> Self {
        Self::from_raw(Vec::new())
    }

    /// An empty table with room for `capacity` entries.
    #[inline]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::from_raw(Vec::with_capacity(capacity))
    }

    /// The table whose entry `I::new(i)` is `raw[i]`.
    #[inline]
    pub const fn from_raw(raw: Vec<T>) -> Self {
        Self {
            raw,
            _ix: PhantomData,
        }
    }

    /// A table of `len` copies of `value`.
    #[inline]
    pub fn from_elem(value: T, len: usize) -> Self
    where
        T: Clone,
    {
        Self::from_raw(vec![value; len])
    }

    /// The entries, in index order, as a plain slice.
    #[inline]
    pub fn as_raw(&self) -> &[T] {
        &self.raw
    }

    /// The entries, in index order, as a plain `Vec`.
    #[inline]
    pub fn into_raw(self) -> Vec<T> {
        self.raw
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Appends `value` and returns its index.
    #[inline]
    pub fn push(&mut self, value: T) -> I {
        let i = I::new(self.raw.len());
        self.raw.push(value);
        i
    }

    /// The entry at `i`, if the table has one.
    #[inline]
    pub fn get(&self, i: I) -> Option<&T> {
        self.raw.get(i.index())
    }

    /// The entries, in index order.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.raw.iter()
    }

    /// The entries, in index order, mutably.
    #[inline]
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.raw.iter_mut()
    }

    /// The entries with their indices, in index order.
    #[inline]
    pub fn iter_enumerated(&self) -> impl DoubleEndedIterator<Item = (I, &T)> + ExactSizeIterator {
        self.raw.iter().enumerate().map(|(i, t)| (I::new(i), t))
    }

    /// The entries with their indices, in index order, mutably.
    #[inline]
    pub fn iter_enumerated_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (I, &mut T)> + ExactSizeIterator {
        self.raw.iter_mut().enumerate().map(|(i, t)| (I::new(i), t))
    }

    /// Every index of the table, in order.
    #[inline]
    pub fn indices(&self) -> impl DoubleEndedIterator<Item = I> + ExactSizeIterator + use<I, T> {
        (0..self.raw.len()).map(I::new)
    }
}

impl<I: Idx, T> Default for IxVec<I, T> {
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

impl<I, T: Clone> Clone for IxVec<I, T> {
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
            _ix: PhantomData,
        }
    }
}

impl<I, T: PartialEq> PartialEq for IxVec<I, T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<I, T: Eq> Eq for IxVec<I, T> {}

impl<I, T: fmt::Debug> fmt::Debug for IxVec<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}

impl<I: Idx, T> Index<I> for IxVec<I, T> {
    type Output = T;

    #[inline]
    fn index(&self, i: I) -> &T {
        &self.raw[i.index()]
    }
}

impl<I: Idx, T> IndexMut<I> for IxVec<I, T> {
    #[inline]
    fn index_mut(&mut self, i: I) -> &mut T {
        &mut self.raw[i.index()]
    }
}

impl<I: Idx, T> FromIterator<T> for IxVec<I, T> {
    #[inline]
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        Self::from_raw(iter.into_iter().collect())
    }
}

impl<I, T> IntoIterator for IxVec<I, T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.raw.into_iter()
    }
}

impl<'a, I, T> IntoIterator for &'a IxVec<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter()
    }
}

impl<'a, I, T> IntoIterator for &'a mut IxVec<I, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ix_vec_is_indexed_by_its_own_index() {
        let mut v: IxVec<NodeIx, &str> = IxVec::new();
        assert!(v.is_empty());
        let a = v.push("a");
        let b = v.push("b");
        assert_eq!((a, b), (NodeIx::new(0), NodeIx::new(1)));
        v[b] = "B";
        assert_eq!(v[a], "a");
        assert_eq!(v.len(), 2);
        assert_eq!(v.get(NodeIx::new(2)), None);
        assert_eq!(v.indices().collect::<Vec<_>>(), [a, b]);
        assert_eq!(
            v.iter_enumerated().collect::<Vec<_>>(),
            [(a, &"a"), (b, &"B")]
        );
        assert_eq!(v.as_raw(), ["a", "B"]);
        let w: IxVec<NodeIx, &str> = ["a", "B"].into_iter().collect();
        assert_eq!(v, w);
        assert_eq!(NodeIx::new(7).to_string(), "7");
    }
}
