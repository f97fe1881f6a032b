/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_image.h - a snapshot member's image block device (see cbt_image.c).
 */
#ifndef CBT_IMAGE_H
#define CBT_IMAGE_H

struct cbt_cow;

int cbt_image_init(void);
void cbt_image_exit(void);
/* Allocate the image's disk (not yet visible). */
int cbt_image_create(struct cbt_cow *cow);
/* Make it visible, once the instant is past. */
int cbt_image_add(struct cbt_cow *cow);
/* Take it away: no new I/O can reach it after this returns. */
void cbt_image_remove(struct cbt_cow *cow);
/* After the set's workqueue is drained. */
void cbt_image_free(struct cbt_cow *cow);
/* Is @disk a cbt image? */
bool cbt_image_is(struct gendisk *disk);

#endif /* CBT_IMAGE_H */
