/* SPDX-License-Identifier: BSD-3-Clause */
/* list.c - intrusive doubly linked lists; every operation but flush is O(1). */
#include "core/core.h"

void cf_list_init(struct cf_list *list)
{
	if (!list)
		return;
	list->head = NULL;
	list->tail = NULL;
	list->n = 0;
}

/* The element must not be on a list (it is overwritten, not unlinked). */
void cf_list_append(struct cf_list *list, struct cf_le *le, void *data)
{
	if (!list || !le)
		return;
	le->prev = list->tail;
	le->next = NULL;
	le->list = list;
	le->data = data;
	if (list->tail)
		list->tail->next = le;
	else
		list->head = le;
	list->tail = le;
	list->n++;
}

void cf_list_prepend(struct cf_list *list, struct cf_le *le, void *data)
{
	if (!list || !le)
		return;
	le->prev = NULL;
	le->next = list->head;
	le->list = list;
	le->data = data;
	if (list->head)
		list->head->prev = le;
	else
		list->tail = le;
	list->head = le;
	list->n++;
}

/* Insert ile after le (le on list); le NULL prepends. */
void cf_list_insert_after(struct cf_list *list, struct cf_le *le,
                          struct cf_le *ile, void *data)
{
	if (!list || !ile)
		return;
	if (!le) {
		cf_list_prepend(list, ile, data);
		return;
	}
	ile->prev = le;
	ile->next = le->next;
	ile->list = list;
	ile->data = data;
	if (le->next)
		le->next->prev = ile;
	else
		list->tail = ile;
	le->next = ile;
	list->n++;
}

void cf_list_unlink(struct cf_le *le)
{
	struct cf_list *list;

	if (!le || !le->list)
		return;
	list = le->list;
	if (le->prev)
		le->prev->next = le->next;
	else
		list->head = le->next;
	if (le->next)
		le->next->prev = le->prev;
	else
		list->tail = le->prev;
	list->n--;
	le->prev = NULL;
	le->next = NULL;
	le->list = NULL;
}

/* O(n). Takes the head each round, so a destructor run by cf_mem_deref may
 * itself unlink other elements of this list. */
void cf_list_flush(struct cf_list *list, bool deref)
{
	struct cf_le *le;

	if (!list)
		return;
	while ((le = list->head)) {
		void *data = le->data;

		cf_list_unlink(le);
		if (deref)
			cf_mem_deref(data);
	}
}

/* O(n). The next element is read before the handler runs, so the handler
 * may unlink (or free) the current one, but not the next one. */
struct cf_le *cf_list_apply(const struct cf_list *list, cf_list_apply_h *h,
                            void *arg)
{
	struct cf_le *le, *next;

	if (!list || !h)
		return NULL;
	for (le = list->head; le; le = next) {
		next = le->next;
		if (h(le, arg))
			return le;
	}
	return NULL;
}
