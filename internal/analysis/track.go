package analysis

// Tracker gives faces stable ids across frames by greedy IoU matching: a
// face continues the track whose last box overlaps it most (IoU >= MinIoU),
// provided that track was seen within MaxGapS seconds. Webcam recordings
// hold one or a few slow-moving faces, where this is enough. Not safe for
// concurrent use.
type Tracker struct {
	MinIoU  float64
	MaxGapS float64
	next    int
	tracks  []track
}

type track struct {
	id   int
	box  Box
	seen float64
}

// NewTracker returns a tracker with defaults for 1 to 30 fps sampling.
func NewTracker() *Tracker { return &Tracker{MinIoU: 0.3, MaxGapS: 1.0, next: 1} }

// Assign returns a track id for each box of the frame at time t.
func (tr *Tracker) Assign(t float64, boxes []Box) []int {
	// Forget tracks not seen for too long, so ids are not reused for faces
	// that only happen to appear where an old one was.
	live := tr.tracks[:0]
	for _, k := range tr.tracks {
		if t-k.seen <= tr.MaxGapS {
			live = append(live, k)
		}
	}
	tr.tracks = live

	ids := make([]int, len(boxes))
	taken := make([]bool, len(tr.tracks))
	// Greedy by best overlap: few faces per frame, so O(n*m) per round is fine.
	assigned := 0
	for assigned < len(boxes) {
		bi, ki, best := -1, -1, tr.MinIoU
		for i, b := range boxes {
			if ids[i] != 0 {
				continue
			}
			for j, k := range tr.tracks {
				if taken[j] {
					continue
				}
				if v := IoU(b, k.box); v >= best {
					bi, ki, best = i, j, v
				}
			}
		}
		if bi < 0 {
			break
		}
		ids[bi] = tr.tracks[ki].id
		tr.tracks[ki].box, tr.tracks[ki].seen = boxes[bi], t
		taken[ki] = true
		assigned++
	}
	for i, b := range boxes {
		if ids[i] == 0 {
			ids[i] = tr.next
			tr.next++
			tr.tracks = append(tr.tracks, track{id: ids[i], box: b, seen: t})
		}
	}
	return ids
}
