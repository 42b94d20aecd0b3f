package main

import (
	"context"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/ffmpeg"
)

// mediaProber is app.MediaProber over the configured ffmpeg and ffprobe.
type mediaProber struct{ ffmpeg, ffprobe string }

var _ app.MediaProber = mediaProber{}

func (m mediaProber) ProbeMedia(ctx context.Context, path string) (facet.StimulusMedia, error) {
	md, err := ffmpeg.ProbeMedia(ctx, m.ffprobe, path)
	if err != nil {
		return facet.StimulusMedia{}, err
	}
	return facet.StimulusMedia{Container: md.Container, VideoCodec: md.VideoCodec, AudioCodec: md.AudioCodec,
		Width: md.Width, Height: md.Height, DurationS: md.DurationS, ContentType: md.ContentType}, nil
}

func (m mediaProber) Thumbnails(ctx context.Context, path string, sm facet.StimulusMedia, n, width int) ([][]byte, error) {
	kind := string(facet.StimVideo)
	if sm.DurationS == 0 {
		kind = string(facet.StimImage)
	}
	md := ffmpeg.Media{Kind: kind, Container: sm.Container, VideoCodec: sm.VideoCodec, AudioCodec: sm.AudioCodec,
		Width: sm.Width, Height: sm.Height, DurationS: sm.DurationS, ContentType: sm.ContentType}
	return ffmpeg.Thumbnails(ctx, m.ffmpeg, path, md, n, width)
}
